"""Cache headers, set in one place rather than in each view: the public API's (CIVITAI_API.md:
public GETs are cacheable and open to any origin), the public HTML lists' (one copy for every
anonymous visitor in a language), and the rule that nothing setting a cookie is shared."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

from community.api_auth import key_from

PUBLIC_API_PREFIXES = ("/api/v1/", "/api/download/")
# Anonymous answers may be kept this long by browsers and shared caches. A minute, like the
# list counts (HUB_LIST_CACHE_SECONDS): a model published or removed shows within it, and a
# crawler or a crowd behind one cache costs one render a minute per page.
PUBLIC_MAX_AGE = 60


class PublicApiHeadersMiddleware:
    """CORS for any origin, without credentials (the API takes a key, never a cookie, from
    other sites), preflights answered here, and Cache-Control that keeps anything personal
    out of shared caches."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PUBLIC_API_PREFIXES):
            return self.get_response(request)
        is_preflight = (
            request.method == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in request.META
        )
        if is_preflight:
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = "GET, HEAD, POST, OPTIONS"
            response["Access-Control-Allow-Headers"] = "Authorization, Content-Type, Range"
            response["Access-Control-Max-Age"] = "86400"
        else:
            response = self.get_response(request)
            self._cache_headers(request, response)
        response["Access-Control-Allow-Origin"] = "*"
        response["Access-Control-Expose-Headers"] = (
            "Content-Disposition, Content-Length, Content-Range, Retry-After"
        )
        return response

    @staticmethod
    def _cache_headers(request: HttpRequest, response: HttpResponse) -> None:
        # The answer depends on who asks (visibility, browsing level).
        anonymous = not key_from(request) and not request.user.is_authenticated
        _cache_for(request, response, shared=anonymous, vary=("Authorization", "Cookie"))


def _cache_for(
    request: HttpRequest,
    response: HttpResponse,
    *,
    shared: bool,
    vary: tuple[str, ...],
    max_age: int = PUBLIC_MAX_AGE,
) -> None:
    """Public for `max_age` seconds when the answer may be `shared` and is a 200 to a GET or
    HEAD; private otherwise. A Cache-Control the view set itself is kept (downloads are
    private, no-store). Copies vary by the request headers in `vary`."""
    if response.has_header("Cache-Control"):
        return
    patch_vary_headers(response, vary)
    if shared and request.method in ("GET", "HEAD") and response.status_code == 200:
        patch_cache_control(response, public=True, max_age=max_age)
    else:
        patch_cache_control(response, private=True, no_cache=True)


def public_when_anonymous(max_age: int = PUBLIC_MAX_AGE) -> Callable:
    """For a page every anonymous visitor sees the same in one language (browse, profiles,
    public collections): a 200 to an anonymous GET is public for `max_age` seconds, unless it
    holds a CSRF token or sets a cookie (both the visitor's own; cookies set after the view,
    by the CSRF, session and messages middleware, are CookiesArePrivateMiddleware's);
    anything else is private. Answers a view already gave a Cache-Control keep it.

    Copies vary by Cookie (the session says who is signed in; the language cookie picks the
    language) and Accept-Language (the language without that cookie: config/i18n.py)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            response = view(request, *args, **kwargs)
            shared = (
                not request.user.is_authenticated
                # get_token() ran: the page holds a token bound to this visitor's cookie.
                and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
                and not response.cookies
            )
            _cache_for(
                request,
                response,
                shared=shared,
                vary=("Cookie", "Accept-Language"),
                max_age=max_age,
            )
            return response

        return wrapper

    return decorator


class CookiesArePrivateMiddleware:
    """A response that sets a cookie is never public, whatever its view said: a shared cache
    would hand that cookie (a session, a CSRF token, a message) to everyone it serves. Listed
    before the session middleware, so that it sees the cookies every later layer sets: the
    session's (deleting a stale one is a Set-Cookie too), the CSRF token's, the messages'."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.cookies and _is_public(response):
            response["Cache-Control"] = "private, no-cache"
        return response


def _is_public(response: HttpResponse) -> bool:
    names = {
        part.split("=")[0].strip().lower() for part in response.get("Cache-Control", "").split(",")
    }
    return bool(names & {"public", "s-maxage"})
