"""A moderator signs in, takes a version the checks held from the queue, approves it, and
its owner reads the decision in their notifications."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from community.models import Notification
from models_hub.choices import Status
from models_hub.demo import make_image
from moderation.models import ModerationAction, QueueItem
from tests.conftest import needs_chromium
from tests.e2e.steps import sign_in, sign_out
from tests.factories import UserFactory
from tests.moderation.conftest import make_moderator
from tests.moderation.test_queue import held_version

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


REASON = "A look-alike at most: the prompt names nobody and the face is generic."


def test_a_moderator_approves_a_held_version_and_the_owner_is_told(page, screenshot):
    owner = UserFactory(username="painter", email="painter@example.invalid")
    version = held_version(owner=owner)
    version.model.name, version.name = "Harbour Portraits", "v1.0"
    version.model.save(update_fields=["name"])
    version.save(update_fields=["name"])
    image = version.images.get()
    # The factory made rows only: the moderator's evidence view needs the picture's bytes.
    stored = settings.MEDIA_ROOT / image.image.name
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_bytes(make_image(seed=3, size=(image.width, image.height)))
    item = QueueItem.objects.get(version=version, state="open")
    assert version.status == Status.IN_REVIEW
    make_moderator("mod")
    label = f"{version.model.name} {version.name}"

    sign_in(page, "mod")
    page.get_by_role("link", name="Moderation", exact=True).click()
    page.get_by_role("heading", name="Moderation queue").wait_for()
    health = page.get_by_role("region", name="Queue health")
    assert health.get_by_role("img", name=re.compile("Open items at the end of each day")).count()
    assert health.get_by_role(
        "img", name=re.compile("Median time to decision, by day decided")
    ).count()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=label))
    assert row.count() == 1
    assert "Real-person likeness" in row.inner_text() or item.rule.title in row.inner_text()
    screenshot("moderation-queue")

    row.get_by_role("link", name=label).click()
    page.get_by_role("heading", level=1).filter(has_text=item.rule.title).wait_for()
    assert page.get_by_text("A face looks like Someone Famous").first.is_visible()
    evidence = page.get_by_role("img", name=f"Image {image.pk}").first
    evidence.wait_for()
    # Loaded, not only shown: waiting for the element alone raced the image's bytes.
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=evidence.element_handle()
    )
    page.get_by_role("button", name="Claim this item").click()
    page.get_by_text("claimed by mod").wait_for()

    page.get_by_label("Approve", exact=True).check()
    rule = page.get_by_label(re.compile(r"^Rule\b"))
    assert rule.evaluate("s => s.options[s.selectedIndex].text") == item.rule.title
    page.get_by_label("Reason, shown to the owner").fill(REASON)
    screenshot("moderation-item")
    page.get_by_role("button", name="Decide", exact=True).click()

    page.get_by_text("Done. The owner has been told.").wait_for()
    assert page.get_by_role("link", name=label).count() == 0
    version.refresh_from_db()
    assert version.status == Status.PUBLISHED
    assert version.model.status == Status.PUBLISHED
    action = ModerationAction.objects.get(item=item)
    assert (action.kind, action.moderator.username, action.reason) == ("approve", "mod", REASON)
    # The owner heard of the hold when it happened, and now of the decision.
    notes = Notification.objects.filter(user=owner)
    assert [n.title.split(":")[0] for n in notes] == ["Approved", "Held for review"]
    note = notes[0]
    assert REASON in note.body and note.read_at is None
    unread = notes.filter(read_at__isnull=True).count()

    # The owner signs in: the top bar counts the unread notifications; the newest gives the
    # decision, its rule and the moderator's reason.
    sign_out(page)
    sign_in(page, "painter")
    notifications = page.get_by_role("link", name=re.compile(r"^Notifications"))
    assert notifications.get_by_label(f"{unread} unread").inner_text() == str(unread)
    notifications.click()
    page.get_by_role("heading", name="Notifications").wait_for()
    entry = page.get_by_role("listitem").filter(has_text=note.title)
    assert page.get_by_role("listitem").first.inner_text() == entry.inner_text()  # newest first
    assert entry.count() == 1
    assert REASON in entry.inner_text()
    assert item.rule.title in entry.inner_text()
    screenshot("moderation-owner-notified")
    entry.get_by_role("link", name="Open").click()
    page.get_by_role("heading", name=version.model.name, level=1).wait_for()
    assert page.get_by_text("Only you can see it").count() == 0
