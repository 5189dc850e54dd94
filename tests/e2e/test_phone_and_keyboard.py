"""The site on a phone-sized screen, and with a keyboard only.

On a phone: nothing is wider than the screen (no sideways scrolling), the browse filters
fold away behind one control, and the main pages read in one column. With a keyboard: a
member signs in, opens a model, favourites it and opens an image by Tab, Enter and Space,
and every control they land on shows where the focus is."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from community.models import Favorite
from models_hub.models import GalleryImage, Model
from tests.conftest import needs_chromium
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.steps import FACTORY_PASSWORD
from tests.factories import UserFactory

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PHONE = {"width": 390, "height": 844}


def _overflow(page) -> int:
    """How many CSS pixels the page is wider than the screen (0: no sideways scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _popular_model() -> Model:
    return Model.objects.filter(status="published", nsfw_level=1).order_by("-like_count")[0]


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, viewport=PHONE, device_scale_factor=2, is_mobile=True,
        has_touch=True,
    )  # fmt: skip
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_on_a_phone_nothing_scrolls_sideways_and_the_filters_fold(phone):
    call_command("seed_demo", verbosity=0)
    model = _popular_model()
    image = GalleryImage.objects.filter(version__model=model).first()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    phone.goto("/")
    filters = phone.locator("details#filters")
    assert filters.get_attribute("open") is None, "the filters start folded on a phone"
    assert phone.get_by_label("Checkpoint", exact=True).is_hidden()
    assert _overflow(phone) <= 0
    cards = phone.locator("article.card")
    first, second = cards.nth(0).bounding_box(), cards.nth(1).bounding_box()
    assert first["width"] <= PHONE["width"] and second["x"] + second["width"] <= PHONE["width"]
    phone.screenshot(path=str(SCREENSHOTS / "phone-browse.png"), full_page=True)

    phone.get_by_text("Filters and sort", exact=True).click()
    phone.get_by_label("Checkpoint", exact=True).check()
    phone.get_by_role("button", name="Apply").click()
    phone.wait_for_url("**/?*type=Checkpoint*")
    assert _overflow(phone) <= 0

    for path in (model.get_absolute_url(), image.get_absolute_url(), "/accounts/login/"):
        phone.goto(path)
        assert _overflow(phone) <= 0, path
    phone.goto(model.get_absolute_url())
    # One column: the version box comes below the gallery, not beside it.
    gallery = phone.locator("section.gallery").bounding_box()
    side = phone.locator("aside.side").bounding_box()
    assert side["y"] >= gallery["y"] + gallery["height"] - 1, (gallery, side)
    phone.screenshot(path=str(SCREENSHOTS / "phone-model-page.png"), full_page=True)


def _tab_to(page, name: str, limit: int = 80) -> None:
    """Press Tab until the focused element's accessible text is `name`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement;"
            " return (e.getAttribute('aria-label') || e.innerText || e.value || '').trim(); }"
        )
        if focused == name:
            return
    raise AssertionError(f"{name!r} was not reached with Tab")


def _focus_is_visible(page) -> bool:
    """The focused control draws an outline (the browser's or the site's own ring)."""
    return page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0; }"
    )


def test_a_member_signs_in_favourites_and_opens_an_image_with_the_keyboard(page):
    call_command("seed_demo", verbosity=0)
    UserFactory(username="keys")
    model = _popular_model()

    page.goto("/")
    _tab_to(page, "Sign in")
    assert _focus_is_visible(page)
    page.keyboard.press("Enter")
    page.wait_for_url("**/accounts/login/**")
    # The form starts in its first field, so typing goes straight in.
    assert page.evaluate("document.activeElement.name") == "username"
    page.keyboard.type("keys")
    page.keyboard.press("Tab")
    page.keyboard.type(FACTORY_PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Feed", exact=True).wait_for()

    page.goto(model.get_absolute_url())
    _tab_to(page, "♡ Favourite")
    assert _focus_is_visible(page)
    page.keyboard.press("Space")
    page.get_by_role("button", name="♥ Favourited").wait_for()
    assert Favorite.objects.filter(user__username="keys", model=model).exists()

    _tab_to(page, "Sample image 1: open with its generation data", limit=200)
    assert _focus_is_visible(page)
    page.keyboard.press("Enter")
    page.wait_for_url("**/images/*/")
    assert page.get_by_role("heading", name="Generation data").is_visible()
