"""The issue's measure of done: a moderator works through 50 mixed queue items from the
queue pages alone (no admin), and the owner of each item can read what happened and why."""

from __future__ import annotations

import re

import pytest

from community.models import Notification
from moderation import queue, reports
from moderation.checks.findings import RuleCode
from moderation.models import ModerationAction, QueueItem, Rule
from tests.factories import UserFactory, published_model
from tests.moderation.conftest import make_moderator
from tests.moderation.test_queue import held_version

pytestmark = pytest.mark.django_db

# What the moderator answers for each kind of item: (action, rule, reason).
DECISIONS = {
    "check": ("approve", RuleCode.LIKENESS, "A look-alike; the prompt names nobody."),
    "report": ("unpublish", RuleCode.LICENSE, "The parent's license forbids sharing merges."),
    "member": ("dismiss", RuleCode.SPAM, "Ordinary posting, not spam."),
    "appeal": ("dismiss", RuleCode.LICENSE, "The license text is clear; the decision stands."),
}


def _fifty_mixed_items():
    first_moderator = make_moderator("first")
    owners: dict[int, object] = {}
    for _ in range(20):  # holds by the checks
        version = held_version()
        owners[QueueItem.objects.get(version=version, state="open").pk] = version.model.owner
    for _ in range(15):  # reports about versions
        version = published_model().versions.get()
        reports.report_create(reporter=UserFactory(), rule=Rule.objects.get(code=RuleCode.LICENSE),
                              version=version)  # fmt: skip
        owners[QueueItem.objects.get(version=version, source="report").pk] = version.model.owner
    for _ in range(10):  # reports about members
        member = UserFactory()
        reports.report_create(reporter=UserFactory(), rule=Rule.objects.get(code=RuleCode.SPAM),
                              user=member)  # fmt: skip
        owners[QueueItem.objects.get(target_user=member).pk] = member
    for _ in range(5):  # appeals of an earlier moderator's blocks
        version = held_version()
        item = QueueItem.objects.get(version=version, state="open")
        queue.item_claim(item_id=item.pk, moderator=first_moderator)
        action = queue.item_act(item_id=item.pk, moderator=first_moderator, kind="block",
                                rule=Rule.objects.get(code=RuleCode.LICENSE),
                                reason="Merged from a model whose license forbids it.")  # fmt: skip
        appeal = queue.appeal_create(action=action, appellant=version.model.owner,
                                     statement="The parent's author allowed it.")  # fmt: skip
        owners[appeal.item_id] = version.model.owner
    assert QueueItem.objects.filter(state="open").count() == 50
    return owners


def test_a_moderator_works_through_fifty_mixed_items_from_the_queue(client_for):
    owners = _fifty_mixed_items()
    moderator = client_for(make_moderator("walker"))
    decided = 0
    while True:
        queue_page = moderator.get("/moderation/").content.decode()
        found = re.search(r'href="/moderation/items/(\d+)/"', queue_page)
        if found is None:
            break
        item_id = int(found[1])
        item = QueueItem.objects.get(pk=item_id)
        page = moderator.get(f"/moderation/items/{item_id}/")
        assert page.status_code == 200 and b"Claim this item" in page.content
        moderator.post(f"/moderation/items/{item_id}/claim")
        kind = "member" if item.target_user_id else item.source
        action, rule, reason = DECISIONS[kind]
        decision = {"kind": action, "rule": rule, "reason": reason}
        done = moderator.post(f"/moderation/items/{item_id}/act", decision, follow=True)
        assert b"Done." in done.content, done.content.decode()[-2000:]
        decided += 1
        assert decided <= 50, "the queue should be empty after fifty decisions"
    assert decided == 50
    assert not QueueItem.objects.filter(state="open").exists()
    for item_id, owner in owners.items():
        action = ModerationAction.objects.get(item_id=item_id)
        assert action.rule.code and action.reason
        item = QueueItem.objects.get(pk=item_id)
        if item.source in ("check", "appeal") or action.kind != "dismiss":
            # The owner reads the decision, its rule and its reason.
            note = Notification.objects.filter(user=owner).first()
            assert note is not None and action.reason in note.body, (item.source, action.kind)
            assert action.rule.title in note.body or item.source == "appeal"
