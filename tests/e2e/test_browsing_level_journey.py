"""A member changes their browsing level: R content is hidden, then shown blurred (a
placeholder and its rating, never the picture), then shown."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from django.test import Client
from PIL import Image

from models_hub.choices import NsfwLevel
from models_hub.demo import make_image
from models_hub.formats import blurhash
from tests.conftest import needs_chromium
from tests.e2e.steps import sign_in, store_picture
from tests.factories import UserFactory, published_model

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _rated_model(name: str, level: NsfwLevel, seed: int):
    """A published model whose every row carries `level`, with a real processed cover."""
    model = published_model(name=name, nsfw_level=level)
    model.versions.update(nsfw_level=level)
    image = store_picture(
        model.cover_image, make_image(seed=seed, size=(480, 640), prompt=name.lower())
    )
    image.nsfw_level = level
    image.generation_params = {"prompt": f"{name.lower()}, night", "seed": seed}
    image.save()
    return model, image


def _card(page, name: str):
    return page.get_by_role("article").filter(
        has=page.get_by_role("heading", name=name, exact=True)
    )


def _assert_painted_from_blurhash(page, placeholder, hash_: str) -> None:
    """The stand-in shows the hash's colours (static/js/blurhash.js), matching the Python
    decoder away from the rating label in its middle."""
    assert placeholder.get_attribute("data-blurhash") == hash_
    page.wait_for_function(
        "el => el.style.backgroundImage.startsWith('url(\"data:image/png')",
        arg=placeholder.element_handle(),
    )
    shot = Image.open(io.BytesIO(placeholder.screenshot())).convert("RGB")
    expected = blurhash.decode(hash_, shot.width, shot.height).astype(float)
    for fx, fy in ((0.15, 0.15), (0.85, 0.15), (0.15, 0.85), (0.85, 0.85)):
        x, y = round(fx * (shot.width - 1)), round(fy * (shot.height - 1))
        painted = np.array(shot.getpixel((x, y)), dtype=float)
        assert np.abs(painted - expected[y, x]).max() < 24, (fx, fy, painted, expected[y, x])


def _save_browsing_level(page, *, ratings: list[str], above: str) -> None:
    """Through the user menu, as a person would: menu, Browsing level, choose, Save."""
    page.locator("details.user-menu > summary").click()  # <summary> has no ARIA role
    page.get_by_role("link", name="Browsing level", exact=True).click()
    page.get_by_role("heading", name="Browsing level", level=1).wait_for()
    for rating in ("PG-13", "R", "X", "XXX"):
        box = page.get_by_role("checkbox", name=rating, exact=True)
        box.set_checked(rating in ratings)
    page.get_by_role("radio", name=above, exact=True).check()
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Your browsing level is saved.").wait_for()


def test_a_member_switches_to_blurred_then_to_showing_r_content(page, screenshot, client):
    """The picture's address is checked with Django's test client: the live server that
    the browser talks to serves /media/ itself (Django's LiveServerThread wraps the site in
    _MediaFilesHandler), so it never reaches the site's own media view and its checks."""
    _pg_model, pg_image = _rated_model("Daylight Meadow", NsfwLevel.PG, seed=5)
    _r_model, r_image = _rated_model("Velvet Nightclub", NsfwLevel.R, seed=6)
    viewer = UserFactory(username="viewer")
    as_viewer = Client()
    as_viewer.force_login(viewer)

    # A visitor who is not signed in sees PG only, and the R picture is not served to them.
    page.goto("/")
    assert _card(page, "Daylight Meadow").count() == 1
    assert _card(page, "Velvet Nightclub").count() == 0
    assert client.get(r_image.thumbnail.url).status_code == 404

    sign_in(page, "viewer")
    page.goto("/")
    assert _card(page, "Daylight Meadow").count() == 1
    assert _card(page, "Velvet Nightclub").count() == 0, "PG and hide is the default"

    _save_browsing_level(page, ratings=[], above="Show it blurred")
    page.goto("/")
    blurred = _card(page, "Velvet Nightclub")
    assert blurred.count() == 1
    placeholder = blurred.get_by_role("img", name="Rated R: above your browsing level")
    assert placeholder.is_visible()
    assert placeholder.get_by_text("R", exact=True).is_visible()
    _assert_painted_from_blurhash(page, placeholder, r_image.blurhash)
    assert blurred.locator("img").count() == 0, "the picture itself is not in the page"
    assert page.locator(f'img[src*="{r_image.thumbnail.name}"]').count() == 0
    assert as_viewer.get(r_image.thumbnail.url).status_code == 404
    assert as_viewer.get(r_image.image.url).status_code == 404
    shown = _card(page, "Daylight Meadow").locator("img")  # alt="": the heading names the card
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=shown.element_handle())  # fmt: skip
    screenshot("browsing-level-blurred")

    # The R image's own page: the placeholder, a way to change the level, and no prompt.
    page.goto(r_image.get_absolute_url())
    large = page.get_by_role("img", name="Rated R: above your browsing level")
    assert large.is_visible()
    assert large.get_by_role("link", name="Change it").is_visible()
    assert page.locator("main img:not(.avatar)").count() == 0
    assert page.get_by_role("heading", name="Generation data").count() == 0
    assert page.get_by_text("velvet nightclub, night").count() == 0
    screenshot("browsing-level-image-blurred")

    _save_browsing_level(page, ratings=["R"], above="Show it blurred")
    page.goto("/")
    card = _card(page, "Velvet Nightclub")
    assert card.get_by_role("img", name=re.compile("above your browsing level")).count() == 0
    picture = card.locator(f'img[src="{r_image.thumbnail.url}"]')
    picture.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=picture.element_handle())  # fmt: skip
    assert card.get_by_text("AI-generated", exact=True).is_visible()
    assert as_viewer.get(r_image.thumbnail.url).status_code == 200
    screenshot("browsing-level-r-shown")

    page.goto(r_image.get_absolute_url())
    full = page.get_by_role("img", name="AI-generated sample image for Velvet Nightclub")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=full.element_handle())  # fmt: skip
    assert page.get_by_role("heading", name="Generation data").is_visible()
    assert page.get_by_text("velvet nightclub, night").is_visible()
    assert pg_image.nsfw_level == NsfwLevel.PG
