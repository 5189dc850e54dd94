"""Reports (merged, counted, rate-limited, never removing anything) and appeals (the owner's,
once per decision, decided by another moderator)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db.models import Count

from community.models import Notification
from models_hub.choices import Status
from models_hub.models import Model
from moderation import queue, reports
from moderation.checks.findings import RuleCode
from moderation.models import Appeal, ModerationAction, QueueItem, Report, Rule
from tests.factories import UserFactory, published_model

pytestmark = pytest.mark.django_db
Kind = ModerationAction.Kind


def rule(code: str = RuleCode.LICENSE) -> Rule:
    return Rule.objects.get(code=code)


def a_published_version():
    return published_model().versions.get()


def test_reports_about_one_version_merge_into_one_item_with_a_count():
    version = a_published_version()
    for n in range(3):
        reports.report_create(reporter=UserFactory(), rule=rule(), details=f"copy {n}",
                              version=version)  # fmt: skip
    counted = QueueItem.objects.annotate(report_count=Count("reports"))
    item = counted.get(source="report", version=version, state="open")
    assert item.report_count == 3 and item.reports.count() == 3
    assert item.priority == QueueItem.Priority.NORMAL
    version.refresh_from_db()
    assert version.status == Status.PUBLISHED, "a report never removes anything by itself"
    for _ in range(2):
        reports.report_create(reporter=UserFactory(), rule=rule(), version=version)
    item = counted.get(pk=item.pk)
    assert item.report_count == 5 and item.priority == QueueItem.Priority.HIGH


def test_a_report_under_the_minors_rule_goes_to_the_top():
    version = a_published_version()
    reports.report_create(reporter=UserFactory(), rule=rule(RuleCode.MINORS), version=version)
    assert QueueItem.objects.get(version=version).priority == QueueItem.Priority.TOP


def test_reports_are_refused_for_own_content_twice_unseen_things_and_floods(settings, stranger):
    version = a_published_version()
    with pytest.raises(queue.Refused, match="your own upload"):
        reports.report_create(reporter=version.model.owner, rule=rule(), version=version)
    reports.report_create(reporter=stranger, rule=rule(), version=version)
    with pytest.raises(queue.Refused, match="reported this already"):
        reports.report_create(reporter=stranger, rule=rule(), version=version)
    draft = published_model(status=Status.DRAFT).versions.get()
    with pytest.raises(queue.Refused, match="nothing to report"):
        reports.report_create(reporter=stranger, rule=rule(), version=draft)
    with pytest.raises(queue.Refused, match="report yourself"):
        reports.report_create(reporter=stranger, rule=rule(), user=stranger)
    settings.HUB_REPORTS_PER_HOUR = 3
    reports.report_create(reporter=stranger, rule=rule(), version=a_published_version())
    reports.report_create(reporter=stranger, rule=rule(), user=UserFactory())
    with pytest.raises(queue.Refused, match="3 reports in the last hour"):
        reports.report_create(reporter=stranger, rule=rule(), version=a_published_version())
    assert Report.objects.filter(reporter=stranger).count() == 3


def test_a_member_reports_through_the_page_and_is_told_the_outcome(
    client_for, stranger, alice, django_capture_on_commit_callbacks
):
    version = a_published_version()
    client = client_for(stranger)
    page = client.get(version.model.get_absolute_url())
    assert f"/report/?version={version.pk}".encode() in page.content
    form = client.get(f"/report/?version={version.pk}")
    assert form.status_code == 200 and b"Copyright" in form.content
    sent = client.post("/report/", {"version": version.pk, "rule": RuleCode.LICENSE,
                                    "details": "This is my LoRA.", "back": "//evil.example"},
                       follow=True)  # fmt: skip
    assert b"A moderator will look at it" in sent.content
    assert sent.redirect_chain[-1][0] == "/"  # not the offered off-site address
    item = QueueItem.objects.get(source="report", version=version)
    queue.item_claim(item_id=item.pk, moderator=alice)
    detail = client_for(alice).get(f"/moderation/items/{item.pk}/")
    assert b"This is my LoRA." in detail.content and b"stranger" in detail.content
    with django_capture_on_commit_callbacks(execute=True):
        queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.DISMISS, rule=rule(),
                       reason="The uploader is the author.")  # fmt: skip
    told = Notification.objects.get(user=stranger)
    assert told.title == "Your report was reviewed" and "nothing was changed" in told.body
    assert not Notification.objects.filter(user=version.model.owner).exists()
    assert [m.to for m in mail.outbox] == [[stranger.email]]


def test_a_report_about_a_member_is_dismissed_or_leads_to_a_suspension(
    alice, stranger, client_for, django_capture_on_commit_callbacks
):
    target = UserFactory(username="spammer", email="spammer@example.invalid")
    reports.report_create(reporter=stranger, rule=rule(RuleCode.SPAM), user=target)
    item = QueueItem.objects.get(source="report", target_user=target)
    assert queue.allowed_actions(item) == [Kind.DISMISS, Kind.SUSPEND, Kind.BAN]
    queue.item_claim(item_id=item.pk, moderator=alice)
    with pytest.raises(queue.Refused, match="not an action"):
        queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.BLOCK,
                       rule=rule(RuleCode.SPAM), reason="x")  # fmt: skip
    with pytest.raises(queue.Refused, match="how long"):
        queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.SUSPEND,
                       rule=rule(RuleCode.SPAM), reason="Spam links.", days=3)  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.SUSPEND,
                       rule=rule(RuleCode.SPAM), reason="Spam links.", days=7)  # fmt: skip
    target.refresh_from_db()
    assert target.is_suspended
    item.refresh_from_db()
    assert item.state == "open", "a suspension is a side action: the report still needs closing"
    told = Notification.objects.get(user=target)
    assert told.title == "Your account is suspended" and "Spam links." in told.body
    client = client_for(target)
    assert client.get("/upload/").status_code == 403
    api = client.post("/api/uploads", {"filename": "a.safetensors", "size": 10},
                      content_type="application/json")  # fmt: skip
    assert api.status_code == 403 and "suspended until" in api.json()["error"]
    queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.DISMISS,
                   rule=rule(RuleCode.SPAM), reason="Handled by the suspension.")  # fmt: skip
    assert QueueItem.objects.get(pk=item.pk).state == "closed"


def test_a_ban_closes_the_account_and_hides_its_models(alice, stranger, client_for):
    version = a_published_version()
    owner = version.model.owner
    reports.report_create(reporter=stranger, rule=rule(RuleCode.SPAM), version=version)
    item = QueueItem.objects.get(source="report", version=version)
    queue.item_claim(item_id=item.pk, moderator=alice)
    action = queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.BAN,
                            rule=rule(RuleCode.SPAM), reason="A spam farm.")  # fmt: skip
    owner.refresh_from_db()
    assert not owner.is_active
    # Hidden by the visibility querysets, not rewritten: lifting the ban shows it as it was.
    assert action.details == {}
    assert Model.objects.get(pk=version.model_id).status == Status.PUBLISHED
    assert not Model.objects.visible_to(stranger).filter(pk=version.model_id).exists()
    assert client_for(None).get(version.model.get_absolute_url()).status_code in (404, 410)


def test_staff_and_moderators_are_not_suspended_from_the_queue(alice, bob, stranger):
    version = a_published_version()
    version.model.owner.groups.add(*bob.groups.all())
    reports.report_create(reporter=stranger, rule=rule(RuleCode.SPAM), version=version)
    item = QueueItem.objects.get(source="report", version=version)
    queue.item_claim(item_id=item.pk, moderator=alice)
    with pytest.raises(queue.Refused, match="by an administrator"):
        queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.BAN,
                       rule=rule(RuleCode.SPAM), reason="x")  # fmt: skip


def test_rating_or_hiding_some_images_of_a_version(
    alice, stranger, client_for, django_capture_on_commit_callbacks
):
    from models_hub.choices import NsfwLevel
    from tests.factories import ImageFactory

    version = a_published_version()
    extra = ImageFactory(version=version)
    kept = version.images.exclude(pk=extra.pk).get()
    reports.report_create(reporter=stranger, rule=rule(RuleCode.SEXUAL_CONTENT), image=extra)
    item = QueueItem.objects.get(source="report", version=version)
    queue.item_claim(item_id=item.pk, moderator=alice)
    with django_capture_on_commit_callbacks(execute=True):
        queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.RATE_IMAGES,
                       rule=rule(RuleCode.SEXUAL_CONTENT), reason="Explicit.",
                       level=NsfwLevel.BLOCKED, image_ids=[extra.pk, 999999])  # fmt: skip
    extra.refresh_from_db()
    version.refresh_from_db()
    assert extra.nsfw_level == NsfwLevel.BLOCKED and version.nsfw_level == kept.nsfw_level
    page = client_for(stranger).get(version.model.get_absolute_url()).content.decode()
    assert kept.display_url in page and extra.display_url not in page
    action = ModerationAction.objects.get(kind=Kind.RATE_IMAGES)
    assert action.details == {"images": [extra.pk], "level": NsfwLevel.BLOCKED}
    assert QueueItem.objects.get(pk=item.pk).state == "open"


def test_rating_a_real_persons_images_explicit_blocks_the_version(
    alice, stranger, django_capture_on_commit_callbacks
):
    # The rating goes through the pipeline, whose real-person rule then applies.
    from models_hub.choices import NsfwLevel

    version = a_published_version()
    type(version).objects.filter(pk=version.pk).update(depicts_real_person=True)
    image = version.images.get()
    reports.report_create(reporter=stranger, rule=rule(RuleCode.SEXUAL_CONTENT), image=image)
    item = QueueItem.objects.get(source="report", version=version)
    queue.item_claim(item_id=item.pk, moderator=alice)
    with django_capture_on_commit_callbacks(execute=True):
        queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.RATE_IMAGES,
                       rule=rule(RuleCode.SEXUAL_CONTENT), reason="Explicit.",
                       level=NsfwLevel.X, image_ids=[image.pk])  # fmt: skip
    version.refresh_from_db()
    assert version.nsfw_level & NsfwLevel.X and version.status == Status.BLOCKED


def _blocked_by(moderator):
    version = a_published_version()
    reports.report_create(reporter=UserFactory(), rule=rule(), version=version)
    item = QueueItem.objects.get(source="report", version=version)
    queue.item_claim(item_id=item.pk, moderator=moderator)
    action = queue.item_act(item_id=item.pk, moderator=moderator, kind=Kind.BLOCK,
                            rule=rule(), reason="A copy of someone else's model.")  # fmt: skip
    return version, action


def test_the_owner_appeals_once_and_another_moderator_decides(
    alice, bob, client_for, django_capture_on_commit_callbacks
):
    version, action = _blocked_by(alice)
    owner = version.model.owner
    told = Notification.objects.get(user=owner, title__startswith="Blocked:")
    assert f"/appeals/{action.pk}/" in told.body
    client = client_for(owner)
    assert client.get(f"/appeals/{action.pk}/").status_code == 200
    client.post(f"/appeals/{action.pk}/", {"statement": "I trained it myself; here is how."})
    appeal = Appeal.objects.get(action=action)
    item = appeal.item
    assert (item.source, item.priority, item.excluded_moderator) == ("appeal", 10, alice)
    with pytest.raises(queue.Refused, match="decision under appeal"):
        queue.item_claim(item_id=item.pk, moderator=alice)
    with pytest.raises(queue.Refused, match="appealed this decision already"):
        queue.appeal_create(action=action, appellant=owner, statement="again")
    queue.item_claim(item_id=item.pk, moderator=bob)
    with django_capture_on_commit_callbacks(execute=True):
        queue.item_act(item_id=item.pk, moderator=bob, kind=Kind.APPROVE, rule=rule(),
                       reason="The training notes show it is original.")  # fmt: skip
    appeal.refresh_from_db()
    version.refresh_from_db()
    assert appeal.outcome == "overturned" and version.status == Status.PUBLISHED
    accepted = Notification.objects.get(user=owner, title__startswith="Appeal accepted")
    assert "training notes" in accepted.body
    assert b"changed the decision" in client.get(f"/appeals/{action.pk}/").content


def test_a_dismissed_appeal_upholds_the_decision(alice, bob):
    version, action = _blocked_by(alice)
    appeal = queue.appeal_create(action=action, appellant=version.model.owner, statement="no")
    queue.item_claim(item_id=appeal.item_id, moderator=bob)
    queue.item_act(item_id=appeal.item_id, moderator=bob, kind=Kind.DISMISS, rule=rule(),
                   reason="The copy is plain.")  # fmt: skip
    appeal.refresh_from_db()
    version.refresh_from_db()
    assert appeal.outcome == "upheld" and version.status == Status.BLOCKED
    assert Notification.objects.filter(user=version.model.owner,
                                       title__startswith="Appeal refused").exists()  # fmt: skip


def test_only_the_owner_can_appeal(alice, stranger, client_for):
    version, action = _blocked_by(alice)
    assert client_for(stranger).get(f"/appeals/{action.pk}/").status_code == 404
    assert (
        client_for(stranger).post(f"/appeals/{action.pk}/", {"statement": "x"}).status_code == 404
    )
    with pytest.raises(queue.Refused, match="Only the owner"):
        queue.appeal_create(action=action, appellant=stranger, statement="mine")
    assert not Appeal.objects.exists()


def test_an_image_is_reported_from_its_page(client_for, stranger):
    version = a_published_version()
    image = version.images.get()
    client = client_for(stranger)
    gallery = client.get(version.model.get_absolute_url()).content.decode()
    assert image.get_absolute_url() in gallery  # each sample image opens its own page
    page = client.get(image.get_absolute_url()).content.decode()
    assert f"/report/?image={image.pk}" in page
    client.post("/report/", {"image": image.pk, "rule": RuleCode.SEXUAL_CONTENT,
                             "details": "Explicit, rated PG."})  # fmt: skip
    report = Report.objects.get(reporter=stranger)
    assert (report.image, report.version) == (image, version)
    assert (
        b"Report this image"
        not in client_for(version.model.owner).get(image.get_absolute_url()).content
    )


def test_a_moderators_image_ratings_survive_the_pipeline_running_again(alice, stranger):
    from models_hub.choices import NsfwLevel
    from moderation import pipeline
    from tests.factories import ImageFactory
    from tests.moderation.conftest import decide_with_finding
    from tests.moderation.test_queue import LIKENESS_HOLD

    version = a_published_version()
    hidden = ImageFactory(version=version)
    decide_with_finding(version, LIKENESS_HOLD)  # held: a check item is open
    item = QueueItem.objects.get(version=version, source="check", state="open")
    queue.item_claim(item_id=item.pk, moderator=alice)
    queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.RATE_IMAGES,
                   rule=rule(RuleCode.SEXUAL_CONTENT), reason="Explicit.",
                   level=NsfwLevel.BLOCKED, image_ids=[hidden.pk])  # fmt: skip
    pipeline.version_decide(version_id=version.pk)
    hidden.refresh_from_db()
    assert hidden.nsfw_level == NsfwLevel.BLOCKED, "the pipeline must not undo a hide"
    queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.APPROVE_AS,
                   rule=rule(RuleCode.SEXUAL_CONTENT), reason="Suggestive.",
                   level=NsfwLevel.PG13)  # fmt: skip
    hidden.refresh_from_db()
    version.refresh_from_db()
    assert hidden.nsfw_level == NsfwLevel.BLOCKED, "approving with a rating keeps it hidden"
    assert version.nsfw_level == NsfwLevel.PG13 and version.status == Status.PUBLISHED
    pipeline.version_decide(version_id=version.pk)
    version.refresh_from_db()
    assert version.nsfw_level == NsfwLevel.PG13


def test_an_appealed_suspension_can_be_overturned(alice, bob, stranger):
    target = UserFactory(username="maybe_spammer")
    reports.report_create(reporter=stranger, rule=rule(RuleCode.SPAM), user=target)
    item = QueueItem.objects.get(source="report", target_user=target)
    queue.item_claim(item_id=item.pk, moderator=alice)
    action = queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.SUSPEND,
                            rule=rule(RuleCode.SPAM), reason="Spam links.", days=7)  # fmt: skip
    appeal = queue.appeal_create(action=action, appellant=target, statement="They were mine.")
    assert Kind.OVERTURN in queue.allowed_actions(appeal.item)
    queue.item_claim(item_id=appeal.item_id, moderator=bob)
    queue.item_act(item_id=appeal.item_id, moderator=bob, kind=Kind.OVERTURN,
                   rule=rule(RuleCode.SPAM), reason="Links to the member's own site.")  # fmt: skip
    target.refresh_from_db()
    appeal.refresh_from_db()
    assert not target.is_suspended and appeal.outcome == "overturned"
    told = Notification.objects.filter(user=target, title__startswith="Appeal accepted")
    assert told.exists() and "withdrawn" in told.get().body


def test_a_side_action_after_a_removal_keeps_the_public_removal_notice(alice, bob, client):
    version, action = _blocked_by(alice)
    appeal = queue.appeal_create(action=action, appellant=version.model.owner, statement="no")
    queue.item_claim(item_id=appeal.item_id, moderator=bob)
    queue.item_act(item_id=appeal.item_id, moderator=bob, kind=Kind.SUSPEND, rule=rule(),
                   reason="Repeated copies.", days=1)  # fmt: skip
    queue.item_act(item_id=appeal.item_id, moderator=bob, kind=Kind.DISMISS, rule=rule(),
                   reason="The copy is plain.")  # fmt: skip
    removed = client.get(version.get_absolute_url())
    assert removed.status_code == 410


def test_accepting_a_takedown_with_several_photos_rescans_once(
    monkeypatch, client, alice, django_capture_on_commit_callbacks
):
    from moderation import tasks as moderation_tasks
    from moderation.models import TakedownRequest
    from tests.moderation.test_takedowns import likeness_form, photo

    rescans = []
    monkeypatch.setattr(moderation_tasks, "enqueue_registry_rescan", rescans.append)
    client.post("/takedown/", likeness_form(photos=[photo(), photo("obama2.jpg")]))
    request = TakedownRequest.objects.get()
    queue.item_claim(item_id=request.item_id, moderator=alice)
    with django_capture_on_commit_callbacks(execute=True):
        queue.item_act(item_id=request.item_id, moderator=alice, kind=Kind.ACCEPT,
                       rule=rule(RuleCode.LIKENESS), reason="Verified.")  # fmt: skip
    request.refresh_from_db()
    assert request.person.photos.count() == 2
    assert rescans == [request.person_id]


def test_the_upload_services_themselves_refuse_a_suspended_member():
    from datetime import timedelta

    from django.utils import timezone

    from models_hub.uploads import upload_create
    from models_hub.validation import UploadsSuspended

    member = UserFactory(suspended_until=timezone.now() + timedelta(days=1))
    with pytest.raises(UploadsSuspended, match="suspended until"):
        upload_create(owner=member, filename="a.safetensors", size=10)
