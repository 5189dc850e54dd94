"""The checks pipeline end to end: an upload runs every check (Celery eager in tests, the
real detectors), and the version is published, held with a queue item, or blocked."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, PngImagePlugin

from models_hub.choices import NsfwLevel, Status
from models_hub.demo import make_image
from models_hub.models import ModelVersion
from moderation import pipeline, services
from moderation.checks.findings import Finding, RuleCode, Severity
from moderation.models import CheckRun, ProtectedPerson, QueueItem
from tests.factories import form_data

pytestmark = pytest.mark.django_db
FACES = Path(__file__).parents[1] / "fixtures" / "faces"


def face_png(name: str, prompt: str = "portrait photo") -> bytes:
    image = Image.open(FACES / name).convert("RGB")
    image.thumbnail((900, 900))
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", f"{prompt}\nNegative prompt: child, nsfw\nSteps: 20, Seed: 1")
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def upload(client, *, images: list[bytes], **overrides) -> ModelVersion:
    data = form_data(
        images=[SimpleUploadedFile(f"s{i}.png", raw) for i, raw in enumerate(images)],
        **overrides,
    )
    response = client.post("/upload/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    return ModelVersion.objects.latest("id")


@pytest.fixture
def obama(settings, tmp_path):
    person = ProtectedPerson.objects.create(name="Barack Obama", aliases=["オバマ"])
    with open(FACES / "obama.jpg", "rb") as stream:
        services.protected_photo_add(person=person, stream=stream)
    return person


@pytest.fixture
def creator(client_for, owner, django_capture_on_commit_callbacks):
    client = client_for(owner)

    class Creator:
        def upload(self, **kwargs) -> ModelVersion:
            with django_capture_on_commit_callbacks(execute=True):
                version = upload(client, **kwargs)
            version.refresh_from_db()
            return version

    return Creator()


def test_a_clean_upload_runs_every_check_and_is_published(creator):
    version = creator.upload(images=[make_image(seed=5, size=(320, 400))])
    kinds = sorted(version.check_runs.values_list("kind", "state"))
    assert kinds == [
        ("license", "done"), ("likeness", "done"), ("nsfw", "done"), ("text_likeness", "done")
    ]  # fmt: skip
    assert version.status == Status.PUBLISHED and version.decision == "publish"
    assert version.nsfw_level == NsfwLevel.PG
    assert not QueueItem.objects.exists()


def test_a_protected_face_holds_the_version_for_staff(creator, obama):
    version = creator.upload(images=[face_png("obama2.jpg")])
    assert version.status == Status.IN_REVIEW and version.decision == "hold"
    assert "Barack Obama" in version.hold_reason
    item = QueueItem.objects.get(version=version)
    assert item.rule.code == RuleCode.LIKENESS and item.state == "open"
    run = version.check_runs.get(kind="likeness")
    evidence = run.findings[0]["evidence"]
    assert evidence["person"] == "Barack Obama" and evidence["distance"] < 0.6
    assert evidence["reference_photo_id"] == obama.photos.get().pk


def test_an_unrelated_face_is_not_held(creator, obama):
    version = creator.upload(images=[face_png("rose_leslie.jpg"), face_png("biden.jpg")])
    assert version.status == Status.PUBLISHED, version.hold_reason


def test_a_protected_name_in_the_title_or_prompt_holds(creator, obama):
    by_title = creator.upload(images=[make_image(seed=1)], name="Ｂａｒａｃｋ　ｏｂａｍａ style")
    assert by_title.decision == "hold"
    assert by_title.check_runs.get(kind="text_likeness").findings
    by_prompt = creator.upload(images=[face_png("rose_leslie.jpg", prompt="オバマ, speech")])
    assert by_prompt.decision == "hold"


def test_a_likeness_match_with_sexual_content_is_blocked():
    version = _version_with_runs(
        nsfw_level=NsfwLevel.R,
        likeness=[
            Finding(RuleCode.LIKENESS, Severity.HOLD, "Looks like X. Staff will look at it.")
        ],
    )
    assert pipeline.version_decide(version_id=version.pk) == "block"
    version.refresh_from_db()
    assert version.status == Status.BLOCKED and "real person" in version.hold_reason
    assert QueueItem.objects.get(version=version).priority == QueueItem.Priority.HIGH


def test_minor_terms_with_r_are_blocked_at_top_priority():
    version = _version_with_runs(
        nsfw_level=NsfwLevel.R,
        nsfw=[Finding(RuleCode.MINORS, Severity.BLOCK, "Minor terms with an R rating.")],
    )
    assert pipeline.version_decide(version_id=version.pk) == "block"
    item = QueueItem.objects.get(version=version)
    assert item.priority == QueueItem.Priority.TOP and item.rule.code == RuleCode.MINORS


def test_version_level_is_the_or_of_its_images_and_a_safe_claim_is_noted():
    version = _version_with_runs(nsfw_level=NsfwLevel.R, second_level=NsfwLevel.PG13)
    assert pipeline.version_decide(version_id=version.pk) == "publish"
    version.refresh_from_db()
    assert version.nsfw_level == NsfwLevel.R | NsfwLevel.PG13
    assert version.status == Status.PUBLISHED
    assert sorted(version.images.values_list("nsfw_level", flat=True)) == [2, 4]
    outcome = pipeline.evaluate(version, list(version.check_runs.all()))
    assert [f.rule for f in outcome.findings] == [RuleCode.SEXUAL_CONTENT]
    assert "marked safe" in outcome.findings[0].message


def test_the_pipeline_waits_for_every_check_and_deciding_twice_changes_nothing():
    version = _version_with_runs(nsfw_level=NsfwLevel.PG)
    CheckRun.objects.filter(version=version, kind="license").update(state="running")
    assert pipeline.version_decide(version_id=version.pk) == "waiting"
    CheckRun.objects.filter(version=version, kind="license").update(state="done")
    assert pipeline.version_decide(version_id=version.pk) == "publish"
    assert pipeline.version_decide(version_id=version.pk) == "publish"
    assert ModelVersion.objects.get(pk=version.pk).status == Status.PUBLISHED


def test_a_check_that_could_not_finish_holds_with_its_rule():
    version = _version_with_runs(nsfw_level=NsfwLevel.PG)
    CheckRun.objects.filter(version=version, kind="nsfw").update(state="error", error="boom")
    assert pipeline.version_decide(version_id=version.pk) == "hold"
    assert QueueItem.objects.get(version=version).rule.code == RuleCode.SEXUAL_CONTENT


def _version_with_runs(*, nsfw_level, second_level=None, likeness=(), nsfw=()):
    from tests.factories import ImageFactory, VersionFactory

    version = VersionFactory(status=Status.IN_REVIEW, publish_requested=True)
    images = [ImageFactory(version=version)]
    if second_level:
        images.append(ImageFactory(version=version))
    CheckRun.objects.create(kind="license", version=version, state="done")
    CheckRun.objects.create(kind="text_likeness", version=version, state="done")
    for image, level in zip(images, [nsfw_level, second_level], strict=False):
        CheckRun.objects.create(
            kind="nsfw",
            version=version,
            image=image,
            state="done",
            result={"level": int(level)},
            findings=[f.as_json() for f in nsfw],
        )
        CheckRun.objects.create(
            kind="likeness",
            version=version,
            image=image,
            state="done",
            findings=[f.as_json() for f in likeness],
        )
    return version


def test_adding_a_person_to_the_registry_takes_down_published_matches(creator):
    published = creator.upload(images=[face_png("obama_and_biden.jpg")])
    assert published.status == Status.PUBLISHED
    person = ProtectedPerson.objects.create(name="Barack Obama")
    with open(FACES / "obama.jpg", "rb") as stream:
        services.protected_photo_add(person=person, stream=stream)
    # Eager Celery ran the rescan on commit of the photo (autocommit here): no detector ran
    # again, the stored embeddings were compared.
    services.registry_rescan_batch(person_id=person.pk)
    published.refresh_from_db()
    assert published.status == Status.IN_REVIEW and published.decision == "hold"
    findings = published.check_runs.get(kind="likeness").findings
    assert len(findings) == 1, "exactly one of the three faces is Obama"
    assert QueueItem.objects.filter(version=published, state="open").count() == 1


def test_a_reference_photo_must_show_exactly_one_face():
    person = ProtectedPerson.objects.create(name="Nobody")
    with (
        open(FACES / "obama_and_biden.jpg", "rb") as stream,
        pytest.raises(services.PhotoRejected, match="exactly one face"),
    ):
        services.protected_photo_add(person=person, stream=stream)
    assert not person.photos.exists()


def test_a_check_that_keeps_dying_ends_as_error_after_the_attempt_limit(settings):
    settings.HUB_JOB_MAX_ATTEMPTS = 2
    version = _version_with_runs(nsfw_level=NsfwLevel.PG)
    run = version.check_runs.get(kind="license")
    # Two deliveries started and their worker died each time (the row stayed RUNNING).
    CheckRun.objects.filter(pk=run.pk).update(state="pending", attempts=2)
    services.check_run_execute(run_id=run.pk, task_id="third")
    run.refresh_from_db()
    assert run.state == "error" and "Gave up after 2 attempts" in run.error
    version.refresh_from_db()
    assert version.decision == "hold"


def test_a_second_delivery_does_not_take_a_running_check():
    version = _version_with_runs(nsfw_level=NsfwLevel.PG)
    run = version.check_runs.get(kind="license")
    CheckRun.objects.filter(pk=run.pk).update(state="running", task_id="first", attempts=1)
    services.check_run_execute(run_id=run.pk, task_id="second")
    run.refresh_from_db()
    assert (run.state, run.attempts, run.task_id) == ("running", 1, "first")
    # The same message redelivered after its worker died takes it back.
    services.check_run_execute(run_id=run.pk, task_id="first")
    run.refresh_from_db()
    assert (run.state, run.attempts) == ("done", 2)


def test_the_sweeper_resets_abandoned_checks_and_finds_lost_ones(settings):
    from datetime import timedelta

    from django.utils import timezone

    version = _version_with_runs(nsfw_level=NsfwLevel.PG)
    runs = list(version.check_runs.order_by("id"))
    long_ago = timezone.now() - timedelta(hours=3)
    CheckRun.objects.filter(pk=runs[0].pk).update(state="running", updated_at=long_ago)
    CheckRun.objects.filter(pk=runs[1].pk).update(state="pending", updated_at=long_ago)
    CheckRun.objects.filter(pk=runs[2].pk).update(state="pending")  # just queued: left alone
    CheckRun.objects.filter(pk=runs[3].pk).update(state="running")  # working right now
    assert services.stuck_check_runs() == [runs[0].pk, runs[1].pk]
    assert CheckRun.objects.get(pk=runs[0].pk).state == "pending"
    assert CheckRun.objects.get(pk=runs[3].pk).state == "running"


def test_the_version_page_shows_checks_to_the_owner_and_credits_to_everyone(
    creator, client, owner, client_for
):
    version = creator.upload(images=[make_image(seed=9, size=(320, 400))])
    url = version.model.get_absolute_url()
    owner_html = client_for(owner).get(url).content.decode()
    assert 'id="checks"' in owner_html and "Content rating" in owner_html
    status = client_for(owner).get(f"/models/{version.model_id}/versions/{version.pk}/checks")
    assert status.status_code == 200 and status.json()["finished"] is True
    assert {run["state"] for run in status.json()["runs"]} == {"done"}
    public_html = client.get(url).content.decode()
    assert 'id="checks"' not in public_html
    assert client.get(f"/models/{version.model_id}/versions/{version.pk}/checks").status_code == 404


def test_the_registry_rescan_walks_images_then_version_texts_in_batches(creator, settings):
    from moderation import tasks

    settings.HUB_RESCAN_BATCH_SIZE = 1
    by_name = creator.upload(images=[make_image(seed=3)], name="Jane Example tribute")
    by_face = creator.upload(images=[face_png("obama2.jpg")])
    assert (by_name.status, by_face.status) == (Status.PUBLISHED, Status.PUBLISHED)
    jane = ProtectedPerson.objects.create(name="Jane Example")
    with open(FACES / "obama.jpg", "rb") as stream:
        photo = services.protected_photo_add(person=jane, stream=stream)
    tasks.rescan_for_person(jane.pk)  # eager: every following batch runs before it returns
    by_name.refresh_from_db()
    by_face.refresh_from_db()
    assert by_name.decision == "hold" and "Jane Example" in by_name.hold_reason
    assert by_face.decision == "hold"
    evidence = by_face.check_runs.get(kind="likeness").findings[0]["evidence"]
    assert evidence["reference_photo_id"] == photo.pk


def test_a_redelivered_finished_check_asks_the_pipeline_again():
    # The worker saved the check and died before the pipeline looked at the version.
    version = _version_with_runs(nsfw_level=NsfwLevel.PG)
    run = version.check_runs.get(kind="license")
    assert version.decision == ""
    services.check_run_execute(run_id=run.pk, task_id="redelivered")
    version.refresh_from_db()
    assert version.decision == "publish" and version.status == Status.PUBLISHED
    assert CheckRun.objects.get(pk=run.pk).attempts == 0  # the check itself did not run again


def test_the_sweeper_decides_versions_whose_decision_was_lost(settings):
    from datetime import timedelta

    from django.utils import timezone

    version = _version_with_runs(nsfw_level=NsfwLevel.PG)
    ModelVersion.objects.filter(pk=version.pk).update(
        updated_at=timezone.now() - timedelta(hours=1)
    )
    assert pipeline.decide_forgotten_versions() == 1
    assert ModelVersion.objects.get(pk=version.pk).status == Status.PUBLISHED
    assert pipeline.decide_forgotten_versions() == 0


def test_a_phone_portrait_stored_sideways_with_its_orientation_tag_is_used_upright():
    person = ProtectedPerson.objects.create(name="Barack Obama")
    upright = Image.open(FACES / "obama.jpg").convert("RGB")
    # What a phone writes: the pixels turned on their side, and a tag saying how to show them.
    sideways = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    out = io.BytesIO()
    sideways.save(out, "JPEG", exif=exif)
    out.seek(0)
    photo = services.protected_photo_add(person=person, stream=out)
    assert photo.embedding and len(photo.embedding) == 128
    with photo.image.open("rb") as stored:
        assert Image.open(stored).size == upright.size  # stored upright
