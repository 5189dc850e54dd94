"""Small helpers for community templates."""

from __future__ import annotations

import re

from django import template
from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from community.services import REACTION_COUNTERS

register = template.Library()

REACTION_EMOJI = {"like": "👍", "heart": "❤️", "laugh": "😂", "cry": "😢"}


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
