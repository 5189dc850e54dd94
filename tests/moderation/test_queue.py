"""The moderation queue: claims, actions with a rule and a reason, the append-only log, the
owner told, and the pages only moderators can reach."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from community.models import Notification
from models_hub.choices import NsfwLevel, Status
from models_hub.models import GalleryImage, ModelVersion
from moderation import pipeline, queue
from moderation.checks.findings import Finding, RuleCode, Severity
from moderation.models import AppendOnly, ModerationAction, QueueItem, Rule
from tests.conftest import needs_postgres
from tests.factories import FileFactory, ImageFactory, VersionFactory
from tests.moderation.conftest import (
    decide_with_finding,
    make_moderator,  # noqa: F401 - imported by other tests
)

pytestmark = pytest.mark.django_db
Kind = ModerationAction.Kind


LIKENESS_HOLD = Finding(
    RuleCode.LIKENESS, Severity.HOLD, "A face looks like Someone Famous. Staff will look at it."
)


def held_version(owner=None, finding: Finding = LIKENESS_HOLD) -> ModelVersion:
    """A version whose likeness check held it: the pipeline made its queue item."""
    version = VersionFactory(
        status=Status.IN_REVIEW, publish_requested=True, published_at=None,
        **({"model__owner": owner} if owner else {}),
    )  # fmt: skip
    version.model.owner.email = "creator@example.invalid"
    version.model.owner.save()
    FileFactory(version=version)
    ImageFactory(version=version)
    assert decide_with_finding(version, finding) in ("hold", "block")
    version.refresh_from_db()
    return version


def item_of(version) -> QueueItem:
    return QueueItem.objects.get(version=version, state="open")


def likeness_rule() -> Rule:
    return Rule.objects.get(code=RuleCode.LIKENESS)


# --- Claims -------------------------------------------------------------------------------


def test_a_claimed_item_cannot_be_taken_by_another_moderator_until_the_claim_lapses(
    alice, bob, settings
):
    item = item_of(held_version())
    queue.item_claim(item_id=item.pk, moderator=alice)
    with pytest.raises(queue.Refused, match="alice is working on this item"):
        queue.item_claim(item_id=item.pk, moderator=bob)
    QueueItem.objects.filter(pk=item.pk).update(
        claimed_at=timezone.now() - timedelta(minutes=settings.HUB_QUEUE_CLAIM_MINUTES + 1)
    )
    queue.item_claim(item_id=item.pk, moderator=bob)
    item.refresh_from_db()
    assert item.claimed_by == bob
    with pytest.raises(queue.Refused, match="Claim the item first"):
        queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.APPROVE,
                       rule=likeness_rule(), reason="fine")  # fmt: skip


def test_released_items_go_back_to_the_queue(alice, bob):
    item = item_of(held_version())
    queue.item_claim(item_id=item.pk, moderator=alice)
    queue.item_release(item_id=item.pk, moderator=alice)
    queue.item_claim(item_id=item.pk, moderator=bob)
    assert QueueItem.objects.get(pk=item.pk).claimed_by == bob


@needs_postgres
# serialized_rollback: a transactional test starts from the migrations' data (rules, the
# moderators group) even after another one flushed the tables.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_moderators_claiming_at_once_get_one_claim_between_them(alice, bob):
    item = item_of(held_version())
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def claim(moderator) -> None:
        start.wait()
        try:
            queue.item_claim(item_id=item.pk, moderator=moderator)
            outcomes[moderator.username] = "claimed"
        except queue.Refused:
            outcomes[moderator.username] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(m,)) for m in (alice, bob)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()) == ["claimed", "refused"]
    winner = QueueItem.objects.get(pk=item.pk).claimed_by.username
    assert outcomes[winner] == "claimed"


def test_a_moderator_cannot_claim_or_decide_their_own_content(alice, bob):
    item = item_of(held_version(owner=alice))
    with pytest.raises(queue.Refused, match="your own content"):
        queue.item_claim(item_id=item.pk, moderator=alice)
    # Even a claim forced into the row does not let the owner decide.
    QueueItem.objects.filter(pk=item.pk).update(claimed_by=alice, claimed_at=timezone.now())
    with pytest.raises(queue.Refused, match="your own content"):
        queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.APPROVE,
                       rule=likeness_rule(), reason="mine")  # fmt: skip


# --- Actions ------------------------------------------------------------------------------


def test_approving_publishes_logs_closes_and_tells_the_owner(
    alice, django_capture_on_commit_callbacks
):
    version = held_version()
    item = item_of(version)
    queue.item_claim(item_id=item.pk, moderator=alice)
    with django_capture_on_commit_callbacks(execute=True):
        action = queue.item_act(
            item_id=item.pk, moderator=alice, kind=Kind.APPROVE, rule=likeness_rule(),
            reason="A look-alike, not the person: the prompt names nobody.",
        )  # fmt: skip
    version.refresh_from_db()
    item.refresh_from_db()
    assert version.status == Status.PUBLISHED and version.hold_reason == ""
    assert item.state == "closed" and item.closed_at is not None
    assert (action.kind, action.moderator, action.owner, action.item) == (
        Kind.APPROVE, alice, version.model.owner, item
    )  # fmt: skip
    assert action.details == {"status_before": "in_review", "status_after": "published"}
    note = Notification.objects.get(user=version.model.owner, title__startswith="Approved:")
    assert "Real-person likeness" in note.body or likeness_rule().title in note.body
    assert "look-alike" in note.body
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["creator@example.invalid"]
    assert (
        "look-alike" in mail.outbox[0].body and f"#rule-{RuleCode.LIKENESS}" in mail.outbox[0].body
    )


def test_an_approved_hold_is_not_raised_again_when_the_pipeline_runs_again(alice):
    version = held_version()
    item = item_of(version)
    queue.item_claim(item_id=item.pk, moderator=alice)
    queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.APPROVE, rule=likeness_rule(),
                   reason="Not the person.")  # fmt: skip
    assert pipeline.version_decide(version_id=version.pk) == "publish"
    version.refresh_from_db()
    assert version.status == Status.PUBLISHED
    assert not QueueItem.objects.filter(version=version, state="open").exists()
    # A finding staff have not seen (a new person in the registry) holds it again.
    run = version.check_runs.get(kind="likeness")
    other = Finding(RuleCode.LIKENESS, Severity.HOLD, "A face looks like Someone Else.")
    run.findings = [*run.findings, other.as_json()]
    run.save()
    assert pipeline.version_decide(version_id=version.pk) == "hold"
    version.refresh_from_db()
    assert version.status == Status.IN_REVIEW


def test_approving_with_a_rating_sets_it_on_the_version_and_its_images(alice):
    version = held_version()
    item = item_of(version)
    queue.item_claim(item_id=item.pk, moderator=alice)
    with pytest.raises(queue.Refused, match="Choose the rating"):
        queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.APPROVE_AS,
                       rule=likeness_rule(), reason="R", level=NsfwLevel.BLOCKED)  # fmt: skip
    queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.APPROVE_AS,
                   rule=likeness_rule(), reason="Suggestive.", level=NsfwLevel.R)  # fmt: skip
    version.refresh_from_db()
    assert version.nsfw_level == NsfwLevel.R and version.status == Status.PUBLISHED
    assert set(
        GalleryImage.objects.filter(version=version).values_list("nsfw_level", flat=True)
    ) == {NsfwLevel.R}


@pytest.mark.parametrize(
    ("kind", "status", "reason_starts"),
    [
        (Kind.BLOCK, Status.BLOCKED, "Blocked by staff: "),
        (Kind.UNPUBLISH, Status.UNPUBLISHED, "Unpublished by staff: "),
        (Kind.REQUEST_CHANGES, Status.DRAFT, "Changes requested by staff: "),
    ],
)
def test_actions_that_take_content_down_say_why_and_hide_it(
    alice, client_for, stranger, kind, status, reason_starts
):
    version = held_version()
    item = item_of(version)
    queue.item_claim(item_id=item.pk, moderator=alice)
    queue.item_act(item_id=item.pk, moderator=alice, kind=kind, rule=likeness_rule(),
                   reason="It is the person.")  # fmt: skip
    version.refresh_from_db()
    assert version.status == status and version.hold_reason == reason_starts + "It is the person."
    assert not version.publish_requested
    # The pipeline running again does not undo a staff decision.
    pipeline.version_decide(version_id=version.pk)
    version.refresh_from_db()
    assert version.status == status and version.hold_reason.startswith(reason_starts)
    assert not ModelVersion.objects.visible_to(stranger).filter(pk=version.pk).exists()
    owner_page = client_for(version.model.owner).get(
        version.model.get_absolute_url() + f"?version={version.pk}"
    )
    assert b"It is the person." in owner_page.content


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reason": "   "}, "Give a reason"),
        ({"kind": Kind.DISMISS}, "not an action for this item"),
    ],
)
def test_an_action_needs_a_reason_and_must_fit_the_item(alice, changes, message):
    item = item_of(held_version())
    queue.item_claim(item_id=item.pk, moderator=alice)
    arguments = {"kind": Kind.APPROVE, "rule": likeness_rule(), "reason": "ok", **changes}
    with pytest.raises(queue.Refused, match=message):
        queue.item_act(item_id=item.pk, moderator=alice, **arguments)
    assert QueueItem.objects.get(pk=item.pk).state == "open"
    assert not ModerationAction.objects.exists()


def test_a_closed_item_cannot_be_decided_again(alice):
    item = item_of(held_version())
    queue.item_claim(item_id=item.pk, moderator=alice)
    queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.BLOCK, rule=likeness_rule(),
                   reason="It is the person.")  # fmt: skip
    with pytest.raises(queue.Refused, match="closed already"):
        queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.APPROVE,
                       rule=likeness_rule(), reason="changed my mind")  # fmt: skip
    assert ModerationAction.objects.count() == 1


def test_the_moderation_log_cannot_be_changed_or_shortened(alice):
    item = item_of(held_version())
    queue.item_claim(item_id=item.pk, moderator=alice)
    action = queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.BLOCK,
                            rule=likeness_rule(), reason="It is the person.")  # fmt: skip
    action.reason = "something nicer"
    with pytest.raises(AppendOnly):
        action.save()
    with pytest.raises(AppendOnly):
        action.delete()
    with pytest.raises(AppendOnly):
        ModerationAction.objects.filter(pk=action.pk).update(reason="x")
    with pytest.raises(AppendOnly):
        ModerationAction.objects.all().delete()
    assert ModerationAction.objects.get(pk=action.pk).reason == "It is the person."


# --- Pages --------------------------------------------------------------------------------


def test_every_moderation_page_is_a_404_to_anyone_but_a_moderator(client_for, stranger, staff):
    version = held_version()
    item = item_of(version)
    image = version.images.get()
    urls = [
        ("get", "/moderation/"),
        ("get", f"/moderation/items/{item.pk}/"),
        ("post", f"/moderation/items/{item.pk}/claim"),
        ("post", f"/moderation/items/{item.pk}/release"),
        ("post", f"/moderation/items/{item.pk}/act"),
        ("get", f"/moderation/evidence/image/{image.pk}"),
    ]
    for user in (None, stranger, staff, version.model.owner):
        client = client_for(user)
        for method, url in urls:
            assert getattr(client, method)(url).status_code == 404, (user, url)
    assert QueueItem.objects.get(pk=item.pk).claimed_by is None


def test_a_moderator_works_an_item_from_the_queue_page(alice, client_for):
    version = held_version()
    item = item_of(version)
    client = client_for(alice)
    page = client.get("/moderation/")
    assert page.status_code == 200 and f"/moderation/items/{item.pk}/".encode() in page.content
    detail = client.get(f"/moderation/items/{item.pk}/")
    assert b"Claim this item" in detail.content and b"Someone Famous" in detail.content
    client.post(f"/moderation/items/{item.pk}/claim")
    detail = client.get(f"/moderation/items/{item.pk}/")
    assert b'name="reason"' in detail.content
    refused = client.post(f"/moderation/items/{item.pk}/act",
                          {"kind": "approve", "rule": RuleCode.LIKENESS, "reason": ""},
                          follow=True)  # fmt: skip
    assert b"Give a reason" in refused.content
    done = client.post(f"/moderation/items/{item.pk}/act",
                       {"kind": "block", "rule": RuleCode.LIKENESS, "reason": "It is them."},
                       follow=True)  # fmt: skip
    assert b"The owner has been told" in done.content
    version.refresh_from_db()
    assert version.status == Status.BLOCKED
    evidence = client.get(f"/moderation/evidence/image/{version.images.get().pk}")
    assert evidence.status_code in (200, 404)  # the factory's image has no bytes on disk


def test_the_queue_page_runs_the_same_number_of_queries_at_any_length(
    alice, client_for, django_assert_max_num_queries
):
    client = client_for(alice)

    def queries_for_page() -> int:
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert client.get("/moderation/").status_code == 200
        return len(captured)

    for _ in range(3):
        held_version()
    few = queries_for_page()
    for _ in range(20):
        held_version()
    many = queries_for_page()
    assert QueueItem.objects.filter(state="open").count() == 23
    assert few == many, (few, many)
    print(f"\nqueue page: {many} queries with 3 and with 23 open items")


def test_filters_narrow_the_queue(alice, client_for):
    held = item_of(held_version())
    old = item_of(held_version())
    QueueItem.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    client = client_for(alice)
    page = client.get("/moderation/?older_than=24").content
    assert f"/moderation/items/{old.pk}/".encode() in page
    assert f"/moderation/items/{held.pk}/".encode() not in page
    assert (
        f"/moderation/items/{held.pk}/".encode()
        not in client.get("/moderation/?source=report").content
    )
    assert (
        f"/moderation/items/{held.pk}/".encode()
        in client.get(f"/moderation/?rule={RuleCode.LIKENESS}&priority=20").content
    )


def test_staff_can_overturn_a_block_but_never_a_quarantined_file(alice):
    minors = Finding(
        RuleCode.MINORS, Severity.BLOCK, "The prompt names a minor: “minor scratches”."
    )
    version = held_version(finding=minors)
    assert version.status == Status.BLOCKED
    item = item_of(version)
    queue.item_claim(item_id=item.pk, moderator=alice)
    queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.APPROVE,
                   rule=Rule.objects.get(code=RuleCode.MINORS),
                   reason="“Minor scratches” on a car, not a person.")  # fmt: skip
    assert pipeline.version_decide(version_id=version.pk) == "publish"
    version.refresh_from_db()
    assert version.status == Status.PUBLISHED

    quarantined = held_version()
    quarantined.files.update(scan_result="Danger", scan_globals=["os.system"])
    pipeline.version_decide(version_id=quarantined.pk)
    item = QueueItem.objects.get(version=quarantined, state="open")
    queue.item_claim(item_id=item.pk, moderator=alice)
    with pytest.raises(queue.Refused, match="quarantined file can never be published"):
        queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.APPROVE,
                       rule=Rule.objects.get(code=RuleCode.MALWARE), reason="fine")  # fmt: skip
    quarantined.refresh_from_db()
    assert quarantined.status == Status.BLOCKED
    assert not ModerationAction.objects.filter(version=quarantined).exists()


def test_the_owner_reads_the_decision_on_their_notifications_page(alice, client_for):
    version = held_version()
    item = item_of(version)
    queue.item_claim(item_id=item.pk, moderator=alice)
    queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.BLOCK, rule=likeness_rule(),
                   reason="It is the person.")  # fmt: skip
    owner = client_for(version.model.owner)
    page = owner.get("/accounts/notifications/")
    assert b"Blocked:" in page.content and b"It is the person." in page.content
    assert b"appeal" in page.content
    owner.post("/accounts/notifications/")
    assert not Notification.objects.filter(user=version.model.owner, read_at__isnull=True).exists()
    assert client_for(None).get("/accounts/notifications/").status_code == 302


def test_the_log_is_read_only_in_the_admin(alice, client_for):
    from django.contrib.auth import get_user_model

    item = item_of(held_version())
    queue.item_claim(item_id=item.pk, moderator=alice)
    action = queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.BLOCK,
                            rule=likeness_rule(), reason="It is the person.")  # fmt: skip
    admin = get_user_model().objects.create_superuser("root", "root@example.invalid", "pw")
    client = client_for(admin)
    url = f"/admin/moderation/moderationaction/{action.pk}/"
    assert client.get(url + "change/").status_code == 200  # view only
    client.post(url + "change/", {"reason": "edited"})
    client.post(url + "delete/", {"post": "yes"})
    assert ModerationAction.objects.get(pk=action.pk).reason == "It is the person."


def test_the_owner_is_told_once_when_the_checks_hold_or_block_a_version(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        version = held_version()
        pipeline.version_decide(version_id=version.pk)  # deciding again says nothing new
    notes = Notification.objects.filter(user=version.model.owner)
    assert [n.title for n in notes] == [f"Held for review: {version.model.name} {version.name}"]
    assert "Someone Famous" in notes[0].body and "#rule-real-person-likeness" in notes[0].body
    assert len(mail.outbox) == 1


# --- The JSON endpoints -------------------------------------------------------------------


def test_the_moderation_api_asks_strangers_to_sign_in_and_is_404_to_others(
    client_for, stranger, staff
):
    item = item_of(held_version())
    for user, status in ((None, 401), (stranger, 404), (staff, 404)):
        client = client_for(user)
        assert client.get("/api/moderation/queue").status_code == status
        assert client.get(f"/api/moderation/items/{item.pk}").status_code == status
        assert client.post(f"/api/moderation/items/{item.pk}/claim").status_code == status
        assert client.post(f"/api/moderation/items/{item.pk}/act", {}).status_code == status
    refused = client_for(None).get("/api/moderation/queue")
    assert refused.json() == {"error": "Sign in, or send an API key with the moderate scope."}


def test_a_moderator_works_an_item_through_the_api(alice, bob, client_for):
    from django.test import Client

    version = held_version()
    item = item_of(version)
    api = Client(enforce_csrf_checks=False)
    api.force_login(alice)
    listed = api.get("/api/moderation/queue?rule=real-person-likeness").json()
    assert [i["id"] for i in listed["items"]] == [item.pk] and listed["total"] == 1
    assert "approve" in listed["items"][0]["allowedActions"]
    assert api.post(f"/api/moderation/items/{item.pk}/claim").json() == {"claimed": True}
    other = client_for(bob).post(f"/api/moderation/items/{item.pk}/claim")
    assert other.status_code == 409 and "alice is working" in other.json()["error"]
    bad = api.post(f"/api/moderation/items/{item.pk}/act",
                   {"kind": "explode", "rule": "nope", "reason": ""},
                   content_type="application/json")  # fmt: skip
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"kind", "rule", "reason"}
    decision = {"kind": "approve_as", "rule": "real-person-likeness", "reason": "A look-alike.",
                "level": 2}  # fmt: skip
    done = api.post(f"/api/moderation/items/{item.pk}/act", decision,
                    content_type="application/json")  # fmt: skip
    assert done.status_code == 200 and done.json()["details"]["level"] == 2
    detail = api.get(f"/api/moderation/items/{item.pk}").json()
    assert detail["state"] == "closed" and detail["history"][0]["kind"] == "approve_as"
    again = api.post(f"/api/moderation/items/{item.pk}/act",
                     {"kind": "block", "rule": "real-person-likeness", "reason": "x"},
                     content_type="application/json")  # fmt: skip
    assert again.status_code == 409 and "closed already" in again.json()["error"]


def test_a_version_marked_as_a_real_person_is_labelled_and_blocked_once_explicit(
    alice, client_for, django_capture_on_commit_callbacks
):
    version = held_version()
    item = item_of(version)
    queue.item_claim(item_id=item.pk, moderator=alice)
    with django_capture_on_commit_callbacks(execute=True):
        queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.MARK_REAL_PERSON,
                       rule=likeness_rule(), reason="It is the actor, with consent.")  # fmt: skip
        queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.APPROVE,
                       rule=likeness_rule(), reason="Consent on file.")  # fmt: skip
    version.refresh_from_db()
    assert version.depicts_real_person and version.status == Status.PUBLISHED
    page = client_for(None).get(version.model.get_absolute_url())
    assert b"Depicts a real person" in page.content
    # Its images turn out to be explicit: with the mark, that is a block.
    run = version.check_runs.get(kind="nsfw")
    run.result = {"level": NsfwLevel.X}
    run.save()
    assert pipeline.version_decide(version_id=version.pk) == "block"
    version.refresh_from_db()
    assert version.status == Status.BLOCKED and "depicts a real person" in version.hold_reason


def test_odd_numbers_and_unknown_actions_are_refused_not_a_500(alice, client_for):
    item = item_of(held_version())
    client = client_for(alice)
    for query in ("priority=²", "older_than=²", f"older_than={10**30}", "priority=-1"):
        assert client.get(f"/moderation/?{query}").status_code == 200, query
    client.post(f"/moderation/items/{item.pk}/claim")
    for form, message in [
        ({"kind": "nope", "rule": RuleCode.LIKENESS, "reason": "x"}, b"Choose an action"),
        ({"kind": "suspend", "rule": RuleCode.LIKENESS, "reason": "x", "days": "²"},
         b"valid integer"),
        ({"kind": "approve", "rule": "nope", "reason": "x"}, b"Choose the rule"),
    ]:  # fmt: skip
        response = client.post(f"/moderation/items/{item.pk}/act", form, follow=True)
        assert response.status_code == 200 and message in response.content, form
    assert QueueItem.objects.get(pk=item.pk).state == "open"


@pytest.mark.parametrize(("hours", "median"), [([1, 2, 10], 2.0), ([1, 2, 4, 10], 3.0)])
def test_queue_health_gives_the_median_time_to_decision_over_30_days(hours, median):
    from moderation.queue_selectors import queue_health

    now = timezone.now()
    for span in [*hours, 1]:
        item = item_of(held_version())
        QueueItem.objects.filter(pk=item.pk).update(
            state=QueueItem.State.CLOSED, created_at=now - timedelta(hours=span), closed_at=now
        )
    # Decided 40 days ago: outside the window.
    QueueItem.objects.filter(pk=item.pk).update(closed_at=now - timedelta(days=40))
    health = queue_health()
    assert health.decided_last_30_days == len(hours)
    assert health.median_hours_to_decision == median
