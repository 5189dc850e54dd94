from __future__ import annotations

from django import template
from django.utils.translation import pgettext

from models_hub.cards import render_cards
from models_hub.choices import NsfwLevel
from models_hub.markdown import render_markdown
from models_hub.querysets import above_browsing_level

register = template.Library()


@register.simple_tag(takes_context=True)
def model_cards(context, models):
    """The cards of a list of models (models_hub/cards.py keeps them a minute)."""
    return render_cards(models, context["user"])


@register.filter
def markdown(text: str):
    return render_markdown(text)


@register.filter
def nsfw_labels(mask: int) -> str:
    return ", ".join(NsfwLevel.labels_for(mask or 0)) or pgettext("content rating", "Unrated")


@register.filter
def above_level(nsfw_level: int, user) -> bool:
    """querysets.above_browsing_level, for templates."""
    return above_browsing_level(nsfw_level, user)


@register.filter
def filesize(num_bytes: int) -> str:
    size = float(num_bytes or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters replaced (None removes one)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return params.urlencode()
