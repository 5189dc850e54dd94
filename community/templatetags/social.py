"""Small helpers for community templates."""

from __future__ import annotations

from django import template

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
