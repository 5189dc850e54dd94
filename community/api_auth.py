"""DRF authentication by API key: `Authorization: Bearer <key>` or `?token=<key>`, as
Civitai's clients send it. A key that is given but wrong is a 401 with a JSON error."""

from __future__ import annotations

from django.http import JsonResponse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.permissions import BasePermission

from community.api_keys import InvalidKey, api_key_check
from community.models import ApiKey

_NO_KEY = {"none", "null", "undefined"}


def key_from(request) -> str:
    """The key a request carries (a DRF request or a plain Django one), or ""."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    raw = header[7:].strip() if header[:7].lower() == "bearer " else request.GET.get("token", "")
    # Clients that were given no key send what their empty variable prints as (civitdl sends
    # "Bearer None"): that is no key, not a wrong one.
    return "" if raw.lower() in _NO_KEY else raw


def key_or_refusal(request, scope: str) -> tuple[ApiKey | None, JsonResponse | None]:
    """For plain Django views (downloads): the key the request carries, or a 401/403 JSON
    answer for a bad key or a missing scope; (None, None) without a key."""
    raw = key_from(request)
    if not raw:
        return None, None
    try:
        key = api_key_check(raw)
    except InvalidKey as exc:
        response = JsonResponse({"error": str(exc)}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return None, response
    if scope not in key.scopes:
        error = f"This API key does not have the “{scope}” scope."
        return None, JsonResponse({"error": error}, status=403)
    return key, None


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        raw = key_from(request)
        if not raw:
            return None  # no key: anonymous (or the session, if another class finds one)
        try:
            key = api_key_check(raw)
        except InvalidKey as exc:
            raise AuthenticationFailed(str(exc)) from None
        return key.user, key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'  # makes DRF answer 401, not 403


def has_scope(request, scope: str) -> bool:
    """A request signed in by session may do what its user may; a key only what it was given."""
    key = getattr(request, "auth", None)
    return not hasattr(key, "scopes") or scope in key.scopes


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes ApiKeyAuthentication."""

    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from your account page (`?token=<key>` works too).",
        }


class KeyScope(BasePermission):
    """Use as KeyScope.of("download"): a key without that scope gets a 403 saying so."""

    scope = ""

    @classmethod
    def of(cls, scope: str) -> type[KeyScope]:
        return type(f"KeyScope_{scope}", (cls,), {"scope": scope})

    def has_permission(self, request, view) -> bool:
        if not has_scope(request, self.scope):
            raise PermissionDenied(f"This API key does not have the “{self.scope}” scope.")
        return True
