"""Headers the public API shares (CIVITAI_API.md: public GETs are cacheable and open to any
origin), set in one place rather than in each view."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

from community.api_auth import key_from

PUBLIC_API_PREFIXES = ("/api/v1/", "/api/download/")
# Anonymous answers may be kept this long by browsers and shared caches.
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
        if response.has_header("Cache-Control"):
            return  # the view knows better (downloads are private, no-store)
        # The answer depends on who asks (visibility, browsing level).
        patch_vary_headers(response, ("Authorization", "Cookie"))
        anonymous = not key_from(request) and not request.user.is_authenticated
        if request.method in ("GET", "HEAD") and response.status_code == 200 and anonymous:
            patch_cache_control(response, public=True, max_age=PUBLIC_MAX_AGE)
        else:
            patch_cache_control(response, private=True, no_cache=True)
