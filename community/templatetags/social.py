"""Small helpers for community templates."""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta

from django import template
from django.conf import settings
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from community.services import REACTION_COUNTERS

register = template.Library()

REACTION_EMOJI = {"like": "👍", "heart": "❤️", "laugh": "😂", "cry": "😢"}


@register.simple_tag
def avatar(person, size: int = 32) -> SafeString:
    """A person's picture, or the first letter of their name on a coloured disc. A tag
    rather than an included template: the most discussed model page shows 80 of them, and
    the includes took 2.5 ms of it."""
    if person.avatar:
        return format_html(
            '<img class="avatar" src="{}" alt="" width="{}" height="{}" loading="lazy">',
            person.avatar.url, size, size,
        )  # fmt: skip
    return format_html(
        '<span class="avatar avatar-initial" style="width:{}px;height:{}px" aria-hidden="true">'
        "{}</span>",
        size, size, person.username[:1].upper(),
    )  # fmt: skip


@register.filter
def ago(moment: datetime | None) -> str:
    """naturaltime ("3 weeks ago"), kept a minute per language for moments over a day
    old, whose words change at most once a day. It took 26 microseconds each, and the most
    discussed model page shows 79 of them."""
    if not isinstance(moment, datetime):
        return naturaltime(moment)
    now = timezone.now()
    if abs(now - moment) < timedelta(days=1):
        return naturaltime(moment)
    return _naturaltime_this_minute(get_language(), moment, now.replace(second=0, microsecond=0))


@functools.lru_cache(maxsize=4096)
def _naturaltime_this_minute(language: str, moment: datetime, minute: datetime) -> str:
    # `language` and `minute` are in the key only: naturaltime reads both itself.
    return naturaltime(moment)


@register.filter
def reaction_count(image, kind: str) -> int:
    field = REACTION_COUNTERS.get(kind)
    return getattr(image, field, 0) if field else 0


@register.filter
def reaction_emoji(kind: str) -> str:
    return REACTION_EMOJI.get(kind, "")


@register.filter
def in_set(value, collection) -> bool:
    return value in (collection or ())


# The order AUTOMATIC1111 writes its settings line in, with the names it uses, so "copy all"
# pastes back into the tools people generate with.
_A1111_ORDER = [
    ("steps", "Steps"),
    ("sampler", "Sampler"),
    ("cfgScale", "CFG scale"),
    ("seed", "Seed"),
    ("Size", "Size"),
    ("Model hash", "Model hash"),
    ("Model", "Model"),
    ("clipSkip", "Clip skip"),
    ("denoisingStrength", "Denoising strength"),
]


@register.filter
def a1111_text(params: dict) -> str:
    """Generation parameters as AUTOMATIC1111's `parameters` text."""
    params = params or {}
    lines = [str(params.get("prompt", ""))]
    if params.get("negativePrompt"):
        lines.append(f"Negative prompt: {params['negativePrompt']}")
    settings = [
        f"{label}: {params[key]}"
        for key, label in _A1111_ORDER
        if params.get(key) not in (None, "")
    ]
    if settings:
        lines.append(", ".join(settings))
    return "\n".join(lines)


@register.filter
def reactions_of(image, mine: dict) -> list[tuple[str, bool]]:
    """[(kind, whether the viewer reacted so)] for an image's reaction summary."""
    own = (mine or {}).get(image.pk, set())
    return [(kind, kind in own) for kind in REACTION_COUNTERS]


@register.filter
def link_site_urls(text: str) -> SafeString:
    """A notification's text (also sent as a plain e-mail) with its links to this site
    clickable: the rule it names, the appeal form. Only addresses on SITE_URL become links;
    anything else, a name a member chose included, stays text. Line breaks are kept."""
    escaped = str(escape(text))
    site = re.escape(str(escape(settings.SITE_URL.rstrip("/"))))

    def link(match: re.Match) -> str:
        address = match[0].rstrip(".,;:")  # the sentence's full stop is not the link's
        return f'<a href="{address}">{address}</a>{match[0][len(address) :]}'

    # Up to a space, a closing bracket or an escaped quote.
    linked = re.sub(rf"{site}/(?:(?!&quot;|&#x27;)[^\s<>)])*", link, escaped)
    return mark_safe(linked.replace("\n", "<br>"))  # noqa: S308 - escaped above
