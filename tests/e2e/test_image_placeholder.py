"""A visitor on a slow connection sees each image's BlurHash placeholder, in the image's own
colours and layout, with the AI-generated label over it, until the image itself arrives."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from models_hub.formats import blurhash
from models_hub.models import GalleryImage
from tests.conftest import needs_chromium
from tests.e2e.steps import store_picture
from tests.factories import published_model

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
RED, BLUE = (220, 30, 40), (30, 50, 210)
SIZE = (600, 800)  # the browse card's 3:4, so the cover shows the whole picture


def _store_halves_as_cover(model) -> GalleryImage:
    """The model's cover becomes a real, processed picture: red left half, blue right half."""
    picture = Image.new("RGB", SIZE, RED)
    ImageDraw.Draw(picture).rectangle([SIZE[0] // 2, 0, *SIZE], fill=BLUE)
    upload = io.BytesIO()
    picture.save(upload, "PNG")
    return store_picture(model.cover_image, upload.getvalue())


def _colour_at(shot: Image.Image, fx: float, fy: float) -> np.ndarray:
    """The mean colour of a 5x5 patch at a fraction of the width and height."""
    x, y = round(fx * (shot.width - 1)), round(fy * (shot.height - 1))
    patch = shot.crop((max(0, x - 2), max(0, y - 2), x + 3, y + 3))
    return np.asarray(patch, dtype=float).reshape(-1, 3).mean(axis=0)


def test_the_placeholder_is_painted_until_the_image_loads(page, screenshot):
    model = published_model(name="Halves")
    image = _store_halves_as_cover(model)
    held, released = [], []

    def slow_connection(route):
        # Images wait until released: the page is what a slow connection shows meanwhile.
        route.continue_() if released else held.append(route)

    page.route("**/media/**", slow_connection)

    page.goto("/")
    cover = page.locator("article.card", has_text="Halves").locator(".hub-image")
    picture = cover.locator("img")
    assert picture.get_attribute("loading") == "lazy"
    assert picture.get_attribute("data-blurhash") == image.blurhash
    placeholder = cover.locator("canvas.blurhash")
    placeholder.wait_for(state="visible")
    assert held, "the image was requested"
    assert picture.evaluate("img => img.naturalWidth") == 0  # the image has not loaded
    label = cover.get_by_text("AI-generated", exact=True)
    assert label.is_visible()
    screenshot("image-placeholder")

    shot = Image.open(io.BytesIO(cover.screenshot())).convert("RGB")
    expected = blurhash.decode(image.blurhash, shot.width, shot.height).astype(float)
    for fx in (0.15, 0.3, 0.7, 0.85):
        painted = _colour_at(shot, fx, 0.4)
        wanted = expected[round(0.4 * (shot.height - 1)), round(fx * (shot.width - 1))]
        assert np.abs(painted - wanted).max() < 24, (fx, painted, wanted)
    left, right = _colour_at(shot, 0.15, 0.4), _colour_at(shot, 0.85, 0.4)
    assert left[0] > left[2] + 80, left  # red on the left
    assert right[2] > right[0] + 80, right  # blue on the right

    # The image arrives: the placeholder goes, the label stays.
    released.append(True)
    for route in held:
        route.continue_()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=picture.element_handle()
    )
    placeholder.wait_for(state="detached")
    assert label.is_visible()
    screenshot("image-loaded")
