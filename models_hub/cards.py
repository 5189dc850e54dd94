"""Model cards (models_hub/_card.html) for lists: browse, profiles, collections, favourites.

Rendering 24 cards was most of a browse page: about 15 of its 19 ms, against 3 ms of SQL
(docs/PERFORMANCE.md). A card shows the same HTML to everyone who reads it in the same
language, so each is kept in the cache (Redis in production: every web process shares them)
for HUB_LIST_CACHE_SECONDS, and a page fetches its cards in one round trip.

A card is kept under the digest of everything it shows: the model's name, type, status and
counts, its owner, its newest visible version's base model, its cover (and whether this
visitor sees it blurred), the language, the media URL and the card templates' own source.
When any of them changes, the card is a new key, so a kept card is never out of date; keys
nobody asks for again expire.

With S3, a card holds signed picture URLs: they outlive the minute a card is kept
(S3_URL_EXPIRE_SECONDS is 300 by default).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import cache

from django.conf import settings
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from models_hub.list_cache import kept_each
from models_hub.models import Model
from models_hub.querysets import above_browsing_level

CARD_TEMPLATE = "models_hub/_card.html"
# The card and what it includes: a change to any of them (a deploy) makes new keys.
CARD_TEMPLATES = (CARD_TEMPLATE, "models_hub/_image.html", "community/_thumb.html")


def render_cards(models: Iterable[Model], user) -> SafeString:
    """The cards of `models` (as listed_models fetched them) for `user`, in order."""
    models = list(models)
    template = get_template(CARD_TEMPLATE)
    cards = kept_each(
        [_card_key(model, user) for model in models],
        lambda i: template.render({"m": models[i], "user": user}),
        what="Card",
    )
    return mark_safe("".join(cards))  # noqa: S308 (each card is the template's escaped output)


def _card_key(model: Model, user) -> str:
    cover = model.cover_image
    newest = model.visible_versions[0] if model.visible_versions else None
    shown = (
        model.pk,
        model.name,
        model.type,
        model.status,
        model.download_count,
        model.like_count,
        model.owner.username,
        newest.base_model.name if newest else None,
        (
            cover.pk,
            cover.image.name,
            cover.thumbnail.name,
            cover.width,
            cover.height,
            cover.blurhash,
            cover.nsfw_level,
            above_browsing_level(cover.nsfw_level, user),  # blurred for this visitor
        )
        if cover
        else None,
        get_language(),
    )
    digest = hashlib.blake2b(repr(shown).encode(), digest_size=16, key=_templates_digest())
    return f"card:{digest.hexdigest()}"


@cache
def _templates_digest() -> bytes:
    """The card templates' source and the media URL, once per process."""
    digest = hashlib.blake2b(settings.MEDIA_URL.encode(), digest_size=16)
    for name in CARD_TEMPLATES:
        digest.update(get_template(name).template.source.encode())
    return digest.digest()
