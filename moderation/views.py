"""Public moderation pages. Thin: parse, call a selector, render."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from moderation import selectors

GUIDELINE_LANGUAGES = ("en", "ja")


def guidelines_language(request: HttpRequest) -> str:
    """?lang= wins (the page's own language links); then the site's language, which
    config.i18n chose from the switcher's cookie or Accept-Language; English otherwise."""
    asked = request.GET.get("lang", "")
    if asked in GUIDELINE_LANGUAGES:
        return asked
    negotiated = getattr(request, "LANGUAGE_CODE", "") or ""
    return "ja" if negotiated.lower().startswith("ja") else "en"


@require_safe
# The rules change only when staff edit one, so shared caches may keep the page a few minutes.
# The top bar names a signed-in visitor, but Django adds Vary: Cookie for that (the session and
# the CSRF token are read), so one visitor's copy is never served to another.
@cache_control(public=True, max_age=300)
def guidelines(request: HttpRequest) -> HttpResponse:
    language = guidelines_language(request)
    return render(
        request,
        "moderation/guidelines.html",
        {"language": language, "rules": selectors.guidelines(language)},
    )


@require_safe
# Counts of past decisions: a few minutes' delay in shared caches is harmless (as above).
@cache_control(public=True, max_age=300)
def transparency(request: HttpRequest) -> HttpResponse:
    """How many decisions moderators made under each rule, per month, and of which kind."""
    language = guidelines_language(request)
    return render(
        request,
        "moderation/transparency.html",
        {"language": language, "report": selectors.transparency(language)},
    )
