"""A new member takes part: favourites a model, saves it to a private collection, follows
its creator, reviews it, comments and replies, reacts to a sample image, and later finds
the creator's new version in their feed and notifications."""

from __future__ import annotations

import io
import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from community.models import Collection, Comment, Favorite, Follow, Notification, Reaction, Review
from models_hub import services
from models_hub.choices import Status
from models_hub.demo import make_image, make_safetensors
from models_hub.formats.images import process_upload
from models_hub.models import GalleryImage, Model, ModelVersion
from tests.conftest import needs_chromium
from tests.e2e.steps import join

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


MODEL = "Aurora Landscapes"  # by mika in the demo content, with a comment thread


def _stays_on_the_page(page):
    """A marker that a full page load would wipe out."""
    page.evaluate("window.__sameDocument = true")
    return lambda: page.evaluate("window.__sameDocument === true")


def _header_count(page, title: str) -> int:
    text = page.locator("header.model-head").get_by_title(title, exact=True).inner_text()
    return int(re.sub(r"\D", "", text))


def _publish_new_version(model: Model) -> ModelVersion:
    """The creator adds v2.0 through the same service the upload form calls."""
    first = model.versions.order_by("id").first()
    image = process_upload(
        io.BytesIO(make_image(seed=77, size=(512, 640), prompt="aurora over a fjord")),
        max_pixels=settings.HUB_MAX_IMAGE_PIXELS,
    )
    version = services.model_upload(
        owner=model.owner, model=model, name=model.name, type=model.type,
        description=model.description, tags=[t.name for t in model.tags.all()],
        license=model.license, license_other_url="", license_other_text="",
        allow_commercial_use=model.allow_commercial_use, allow_no_credit=model.allow_no_credit,
        allow_derivatives=model.allow_derivatives,
        allow_different_license=model.allow_different_license,
        version_name="v2.0", base_model=first.base_model, trained_words=["aurora sky"],
        version_description="Sharper stars.", nsfw_level=1, parent_versions=[],
        external_parents=[],
        model_files=[SimpleUploadedFile("aurora_v2.safetensors", make_safetensors(seed=99))],
        images=[image], publish=True,
    )  # fmt: skip
    version.refresh_from_db()
    assert version.status == Status.PUBLISHED, (version.status, version.hold_reason)
    return version


def test_a_new_member_favourites_collects_follows_reviews_comments_and_reacts(
    page, browser, live_server, screenshot
):
    call_command("seed_demo", verbosity=0)
    model = Model.objects.get(name=MODEL)
    creator = model.owner
    followers_before = creator.follower_count
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])

    join(page, "kaito")
    page.get_by_role("link", name=MODEL, exact=True).click()
    page.get_by_role("heading", name=MODEL, level=1).wait_for()
    model_url = page.url
    likes = _header_count(page, "Favourites")
    assert likes == model.like_count

    # Favourite: the button toggles in place, without a page load.
    same_page = _stays_on_the_page(page)
    favourite = page.get_by_role("button", name="♡ Favourite")
    favourite.click()
    pressed = page.get_by_role("button", name="♥ Favourited")
    pressed.wait_for()
    assert pressed.get_attribute("aria-pressed") == "true"
    assert same_page()
    assert Favorite.objects.filter(user__username="kaito", model=model).exists()
    assert Model.objects.get(pk=model.pk).like_count == likes + 1
    assert _header_count(page, "Favourites") == likes + 1  # the header's total, in place too

    # Save to a new private collection from the "Save to collection" menu.
    page.get_by_text("Save to collection", exact=True).click()
    page.get_by_label("New collection").fill("Night skies")
    page.get_by_label("Public", exact=True).uncheck()
    page.get_by_role("button", name="Create and add").click()
    page.get_by_text("Added to Night skies.").wait_for()
    collection = Collection.objects.get(owner__username="kaito", name="Night skies")
    assert not collection.is_public and collection.items.filter(model=model).exists()
    assert _header_count(page, "Favourites") == likes + 1  # and after that page load
    page.get_by_text("Save to collection", exact=True).click()
    saved = page.get_by_role("button", name=re.compile(r"Night skies"))
    assert saved.get_attribute("aria-pressed") == "true"
    assert "(private)" in saved.inner_text()
    page.get_by_text("Save to collection", exact=True).click()  # fold the menu again

    # Follow the creator, in place.
    same_page = _stays_on_the_page(page)
    page.locator("header.model-head").get_by_role("button", name="Follow", exact=True).click()
    following = page.get_by_role("button", name="Following", exact=True)
    following.wait_for()
    assert following.get_attribute("aria-pressed") == "true"
    assert same_page()
    assert Follow.objects.filter(follower__username="kaito", creator=creator).exists()

    # A review that recommends the model, with a few words.
    reviews = page.locator("#reviews")
    reviews.get_by_role("radio", name="👍 Recommend").check()
    reviews.get_by_label("What did you like or not? (optional)").fill(
        "Lovely **skies**; works at 0.7."
    )
    reviews.get_by_role("button", name="Post review").click()
    page.get_by_text("Thanks: your review is posted.").wait_for()
    mine = page.locator("#reviews li.review").filter(has_text="kaito")
    assert "recommends" in mine.inner_text() and "Lovely skies; works at 0.7." in mine.inner_text()
    assert mine.locator("strong", has_text="skies").count() == 1  # Markdown rendered
    assert Review.objects.get(author__username="kaito").recommended

    # A comment, and a reply to the question already there.
    comments = page.locator("#comments")
    comments.get_by_label("Add a comment").fill("The aurora colours are spot on.")
    comments.get_by_role("button", name="Post comment").click()
    mine = Comment.objects.get(author__username="kaito", parent=None)
    page.wait_for_url(f"**#comment-{mine.pk}")
    assert page.locator(f"#comment-{mine.pk}").get_by_text("The aurora colours are spot on.")
    question = Comment.objects.get(model=model, body__startswith="Which sampler")
    thread = page.locator(f"#comment-{question.pk}")
    thread.get_by_text("Reply", exact=True).first.click()
    thread.get_by_label(f"Reply to {question.author.username}").fill("Same here: DPM++ works.")
    thread.get_by_role("button", name="Post reply").first.click()
    reply = Comment.objects.get(author__username="kaito", parent=question)
    page.wait_for_url(f"**#comment-{reply.pk}")
    nested = page.locator(f"#comment-{question.pk} ol.thread #comment-{reply.pk}")
    assert nested.get_by_text("Same here: DPM++ works.").is_visible()
    page.goto(model_url)
    screenshot("community-model-page")

    # A sample image: its generation data with Copy buttons, and the AI-generated label.
    image = GalleryImage.objects.filter(version__model=model).order_by("position", "id").first()
    page.get_by_role("link", name="Sample image 1: open with its generation data").click()
    page.wait_for_url(f"**{image.get_absolute_url()}")
    picture = page.get_by_role("img", name=f"AI-generated sample image for {MODEL}")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=picture.element_handle())  # fmt: skip
    label = page.locator("figure.image-main").get_by_text("AI-generated", exact=True)
    assert label.is_visible()
    shown, on = picture.bounding_box(), label.bounding_box()  # the label is on the picture
    assert shown["x"] <= on["x"] and on["x"] + on["width"] <= shown["x"] + shown["width"], (
        on,
        shown,
    )
    assert shown["y"] <= on["y"] and on["y"] + on["height"] <= shown["y"] + shown["height"], (
        on,
        shown,
    )
    params = page.locator("section.params")
    assert params.get_by_role("heading", name=re.compile("^Generation data")).is_visible()
    prompt = image.generation_params["prompt"]
    assert params.get_by_text(prompt, exact=True).is_visible()
    copies = params.get_by_role("button", name="Copy", exact=True)
    assert copies.count() == 3  # prompt, negative prompt, seed
    params.get_by_role("heading", name=re.compile("^Prompt")).get_by_role("button").click()
    assert page.evaluate("navigator.clipboard.readText()") == prompt
    copy_all = params.get_by_role("button", name="Copy all generation data")
    copy_all.click()
    everything = page.evaluate("navigator.clipboard.readText()")
    assert everything.startswith(prompt) and "Steps: 28" in everything
    copy_all.wait_for()  # the button says ✓ for a moment, then its label again

    # A heart, on, off and on again: the count follows in place.
    hearts = image.heart_count
    heart = page.get_by_role("group", name="Reactions").get_by_role(
        "button", name=re.compile(r"^Love \d")
    )
    same_page = _stays_on_the_page(page)
    for on, expected in ((True, hearts + 1), (False, hearts), (True, hearts + 1)):
        heart.click()
        page.wait_for_function(
            "([b, want]) => b.getAttribute('aria-pressed') === want && !b.disabled",
            arg=[heart.element_handle(), "true" if on else "false"],
        )
        assert heart.locator(".count").inner_text() == str(expected)
        assert GalleryImage.objects.get(pk=image.pk).heart_count == expected
    assert same_page()
    assert Reaction.objects.filter(user__username="kaito", image=image, kind="heart").exists()
    screenshot("community-image-page")

    # Their collections, from the user menu; a stranger cannot see the private one.
    page.locator("details.user-menu > summary").click()  # <summary> has no ARIA role
    page.get_by_role("link", name="Collections", exact=True).click()
    page.get_by_role("heading", name="Your collections").wait_for()
    listed = page.get_by_role("listitem").filter(has=page.get_by_role("link", name="Night skies"))
    assert "private" in listed.inner_text()
    listed.get_by_role("link", name="Night skies").click()
    page.get_by_role("heading", name=re.compile("^Night skies")).wait_for()
    assert page.get_by_role("heading", name=MODEL).is_visible()
    stranger = browser.new_context(base_url=live_server.url)
    try:
        response = stranger.new_page().goto(collection.get_absolute_url())
        assert response.status == 404
    finally:
        stranger.close()

    # The creator's profile: initial for an avatar, followers, the downloads chart.
    page.goto(model_url)
    page.locator("header.model-head").get_by_role("link", name=creator.username, exact=True).click()
    page.get_by_role("heading", name=creator.username, level=1).wait_for()
    profile = page.locator("header.profile-head")
    assert profile.locator(".avatar-initial").inner_text() == creator.username[0].upper()
    followers = followers_before + 1
    assert f"{followers} follower" in profile.inner_text()
    assert profile.get_by_role("button", name="Following").is_visible()
    chart = page.get_by_role("img", name=re.compile("download", re.IGNORECASE)).first
    assert chart.is_visible()
    assert page.get_by_role("heading", name=MODEL).is_visible()  # the creator's models
    screenshot("community-profile")

    # Later the creator publishes v2.0: it is in the member's feed and notifications.
    version = _publish_new_version(model)
    page.goto("/")
    badge = page.get_by_role("link", name=re.compile("^Notifications")).get_by_label("1 unread")
    assert badge.inner_text() == "1"
    page.get_by_role("link", name="Feed", exact=True).click()
    page.get_by_role("heading", name="From creators you follow").wait_for()
    item = page.get_by_role("listitem").filter(has_text=f"{MODEL} — v2.0").first
    assert item.is_visible()
    assert f"{creator.username} published" in item.inner_text()
    screenshot("community-feed")
    note = Notification.objects.get(user__username="kaito", version=version)
    page.get_by_role("link", name=re.compile("^Notifications")).click()
    entry = page.get_by_role("listitem").filter(has_text=note.title)
    assert entry.count() == 1
    entry.get_by_role("link", name="Open").click()
    page.get_by_role("heading", name=MODEL, level=1).wait_for()
    assert page.get_by_role("link", name="v2.0", exact=True).get_attribute("aria-current") == (
        "page"
    )
