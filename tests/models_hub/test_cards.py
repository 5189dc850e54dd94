"""Model cards kept for HUB_LIST_CACHE_SECONDS (models_hub/cards.py): a list's cards come
from the cache, read in one round trip; what a card shows changing, another language, or a
visitor who sees the cover blurred each get their own card, so a kept card is never stale
or someone else's."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from models_hub.cards import render_cards
from models_hub.choices import NsfwLevel
from models_hub.models import GalleryImage, Model
from models_hub.selectors import listed_models
from tests.factories import UserFactory, published_model

pytestmark = pytest.mark.django_db


def _cards(html: str) -> list[str]:
    return re.findall(r'<article class="card">.*?</article>', html, flags=re.S)


def _rendered_cards(response) -> int:
    """How many cards the request rendered (the test client records every template)."""
    return sum(t.name == "models_hub/_card.html" for t in response.templates)


def test_a_lists_cards_come_from_the_cache_once_kept(kept):
    for n in range(3):
        published_model(name=f"Kept {n}")
    client = Client()
    first, second = client.get("/"), client.get("/")
    assert _rendered_cards(first) == 3 and _rendered_cards(second) == 0
    assert _cards(first.content.decode()) == _cards(second.content.decode())
    assert len(_cards(second.content.decode())) == 3


def test_kept_cards_read_exactly_as_rendered_ones(kept, settings):
    for n in range(4):
        published_model(name=f"Same {n}")
    warm = Client().get("/")
    again = Client().get("/").content.decode()
    settings.HUB_LIST_CACHE_SECONDS = 0
    fresh = Client().get("/").content.decode()
    assert _cards(again) == _cards(fresh) == _cards(warm.content.decode())


def test_a_change_to_what_a_card_shows_shows_at_once(kept):
    model = published_model(name="Before")
    client = Client()
    assert "Before" in client.get("/").content.decode()
    Model.objects.filter(pk=model.pk).update(download_count=1234)
    assert "1,234" in client.get("/").content.decode()
    Model.objects.filter(pk=model.pk).update(name="After")
    page = client.get("/").content.decode()
    assert "After" in page and "Before" not in page
    GalleryImage.objects.filter(pk=model.cover_image_id).update(image="images/00/new-cover.png")
    assert "new-cover.png" in client.get("/").content.decode()


def test_each_language_has_its_own_cards(kept):
    published_model(name="Bilingual", download_count=1000)
    english = Client().get("/").content.decode()
    japanese = Client(headers={"accept-language": "ja"}).get("/").content.decode()
    assert 'title="Downloads"' in _cards(english)[0]
    assert 'title="Downloads"' not in _cards(japanese)[0]
    assert _cards(english) != _cards(japanese)


def test_a_cover_blurred_for_one_member_is_not_served_blurred_to_another(kept, client_for):
    model = published_model(name="Rated R", nsfw_level=NsfwLevel.R)
    GalleryImage.objects.filter(pk=model.cover_image_id).update(nsfw_level=NsfwLevel.R)
    blurs = UserFactory(browsing_level=NsfwLevel.PG, above_level="blur")
    sees = UserFactory(browsing_level=NsfwLevel.PG | NsfwLevel.R)
    blurred = _cards(client_for(blurs).get("/").content.decode())
    shown = _cards(client_for(sees).get("/").content.decode())
    assert len(blurred) == len(shown) == 1
    assert 'class="blurred"' in blurred[0] and "<img" not in blurred[0]
    assert 'class="blurred"' not in shown[0] and "<img" in shown[0]


def test_with_the_cache_away_cards_are_rendered(settings, redis_down, caplog):
    settings.HUB_LIST_CACHE_SECONDS = 60
    published_model(name="Still Shown")
    user = UserFactory()
    html = str(render_cards(listed_models(user), user))
    assert "Still Shown" in html and "Card cache unreachable" in caplog.text
