"""The language of each request: pages follow the visitor, the API stays in English."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

API_PREFIX = "/api/"


class SiteLocaleMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware (language cookie, then Accept-Language, then LANGUAGE_CODE)
    for pages. Under /api/ it activates LANGUAGE_CODE whatever the client sends: API clients
    parse error messages and DRF ships translations of its own, and an answer that does not
    vary by Accept-Language keeps one copy in shared caches."""

    def process_request(self, request: HttpRequest) -> None:
        if request.path.startswith(API_PREFIX):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = translation.get_language()
            return
        super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if request.path.startswith(API_PREFIX):
            return response
        return super().process_response(request, response)
