"""Markdown from creators rendered to HTML that is safe to show: nh3 keeps an allowlist."""

from __future__ import annotations

import functools
import threading

import markdown as md
import nh3
from django.conf import settings
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "td": {"align"},
    "th": {"align"},
}
# No javascript:, data: or other schemes: links go to the web or to mail, nothing else.
URL_SCHEMES = {"http", "https", "mailto"}


def _only_own_images(element: str, attribute: str, value: str) -> str | None:
    """Images only from this site's gallery media. An outside image would tell another
    server who reads the page; a relative one could point at an action such as a download."""
    if element == "img" and attribute == "src":
        prefixes = tuple(settings.MEDIA_URL + folder for folder in ("images/", "thumbs/"))
        return value if value.startswith(prefixes) and ".." not in value else None
    return value


# One converter per thread, reset between texts: building one per call (loading its
# extensions) was 40% of an API page of 100 models (docs/PERFORMANCE.md).
_converters = threading.local()


def _converter() -> md.Markdown:
    converter = getattr(_converters, "markdown", None)
    if converter is None:
        converter = _converters.markdown = md.Markdown(
            extensions=["fenced_code", "tables", "sane_lists"]
        )
    return converter.reset()


def render_markdown(text: str) -> SafeString:
    if not text or not text.strip():
        return mark_safe("")
    if len(text) > CACHED_TEXT_LIMIT:
        return _render.__wrapped__(text, settings.MEDIA_URL)
    return _render(text, settings.MEDIA_URL)


# Lists show the same popular models' descriptions again and again: rendering them was the
# largest cost of an API page of 100 models (docs/PERFORMANCE.md). The HTML depends only on
# the text and the media prefix, so each process keeps the latest couple of thousand (short
# ones: at most about 2,048 x 2 x 8 KB, 32 MB, per process).
CACHED_TEXT_LIMIT = 8 * 1024


@functools.lru_cache(maxsize=2048)
def _render(text: str, media_url: str) -> SafeString:
    html = _converter().convert(text)
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer ugc",
        attribute_filter=_only_own_images,
    )
    return mark_safe(cleaned)  # noqa: S308 - sanitised by nh3 just above
