"""DRF authentication by API key: `Authorization: Bearer <key>` or `?token=<key>`, as
Civitai's clients send it. A key that is given but wrong is a 401 with a JSON error."""

from __future__ import annotations

from functools import wraps

from django.http import JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt
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


def _csrf_refusal(request):
    """Django's CSRF check, run by hand (as DRF's SessionAuthentication does) for a view that
    is exempt from the middleware because a key-holding tool has no CSRF token to send."""
    check = CsrfViewMiddleware(lambda _request: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})


def session_or_key(scope: str):
    """For plain Django JSON views that tools call as well as the site's pages: signed in
    by an API key with `scope` (no CSRF token needed: a key is not sent by browsers on their
    own), or by the session with the usual CSRF check; a 401 JSON answer otherwise."""

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            key, refusal = key_or_refusal(request, scope)
            if refusal is not None:
                return refusal
            if key is not None:
                request.user = key.user
            elif not request.user.is_authenticated:
                response = JsonResponse(
                    {"error": f"Sign in, or send an API key with the “{scope}” scope."},
                    status=401,
                )
                response["WWW-Authenticate"] = 'Bearer realm="api"'
                return response
            elif _csrf_refusal(request) is not None:
                return JsonResponse({"error": "CSRF check failed; reload the page."}, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


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
