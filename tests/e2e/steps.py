"""Steps several journeys take, done as a person would: through the visible links and the
labelled fields."""

from __future__ import annotations

import io
import re

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from models_hub.formats.images import make_previews, process_upload
from models_hub.models import GalleryImage, gallery_thumbnail_key, new_gallery_image_key

# tests.factories.UserFactory's password, for people the test made in the database.
FACTORY_PASSWORD = "correct horse battery staple"
# For people who sign up through the page.
JOIN_PASSWORD = "a long passphrase for the journey"


def form_label(text: str) -> re.Pattern[str]:
    """A field's label, with or without the colon Django's account forms add."""
    return re.compile(rf"^{re.escape(text)}:?$")


def join(page, username: str, password: str = JOIN_PASSWORD) -> None:
    page.goto("/")
    page.get_by_role("link", name="Join", exact=True).click()
    page.get_by_label(form_label("Username")).fill(username)
    page.get_by_label(form_label("Email address")).fill(f"{username}@example.invalid")
    page.get_by_label(form_label("Password")).fill(password)
    page.get_by_label(form_label("Password confirmation")).fill(password)
    page.get_by_role("button", name="Create account").click()
    page.get_by_text(f"Welcome, {username}!").wait_for()


def sign_in(page, username: str, password: str = FACTORY_PASSWORD) -> None:
    page.goto("/")
    page.get_by_role("link", name="Sign in", exact=True).click()
    page.get_by_label(form_label("Username")).fill(username)
    page.get_by_label(form_label("Password")).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Feed", exact=True).wait_for()  # only members have a feed
    assert page.locator("header").get_by_text(username, exact=True).is_visible()


def sign_out(page) -> None:
    page.locator("details.user-menu > summary").click()  # <summary> has no ARIA role
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("link", name="Sign in", exact=True).wait_for()


def store_picture(image: GalleryImage, upload: bytes) -> GalleryImage:
    """Give a gallery image row a real picture, as an upload and its processing would: the
    served copy, the WebP thumbnail, its size and its BlurHash. Saves only those fields."""
    limit = settings.HUB_MAX_IMAGE_PIXELS
    processed = process_upload(io.BytesIO(upload), max_pixels=limit)
    previews = make_previews(io.BytesIO(processed.content), max_pixels=limit)
    image.image = default_storage.save(
        new_gallery_image_key(processed.extension), ContentFile(processed.content)
    )
    image.thumbnail = default_storage.save(
        gallery_thumbnail_key(image, "thumb.webp"), ContentFile(previews.thumbnail)
    )
    image.width, image.height = processed.width, processed.height
    image.blurhash = previews.blurhash
    image.save(update_fields=["image", "thumbnail", "width", "height", "blurhash"])
    return image
