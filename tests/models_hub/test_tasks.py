from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from kombu.exceptions import OperationalError

from models_hub import services, tasks
from models_hub.choices import JobStatus, Status
from models_hub.models import GalleryImage, ModelFile
from moderation import pipeline
from tests.factories import FileFactory, ImageFactory, VersionFactory

pytestmark = pytest.mark.django_db


def _pending_file(content: bytes | None) -> ModelFile:
    version = VersionFactory(status=Status.IN_REVIEW, publish_requested=True)
    model_file = FileFactory(version=version, hash_status=JobStatus.PENDING, sha256="")
    if content is not None:
        model_file.file.save("upload", ContentFile(content))
    return model_file


def test_hash_task_fills_every_hash_and_publishes_the_waiting_version():
    model_file = _pending_file(b"x" * 2_000_000)
    tasks.hash_model_file(model_file.pk)
    model_file.refresh_from_db()
    assert model_file.hash_status == JobStatus.DONE
    assert all([model_file.sha256, model_file.autov1, model_file.autov2, model_file.crc32,
                model_file.blake3])  # fmt: skip
    assert model_file.version.status == Status.PUBLISHED


@pytest.fixture
def retries_run_inline(monkeypatch):
    """apply() then runs a task as a worker would, its retries included (without the waits)."""
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_eager_propagates", False)


def test_a_file_the_storage_cannot_read_is_retried_then_ends_as_error_with_the_reason(
    retries_run_inline,
):
    model_file = _pending_file(None)  # the row says stored; the storage has nothing
    tasks.hash_model_file.apply((model_file.pk,))
    model_file.refresh_from_db()
    assert model_file.hash_status == JobStatus.ERROR
    assert "Gave up after 6 tries; the last: FileNotFoundError" in model_file.hash_error
    # Storage failures are not the file's fault: they do not count towards the attempt limit.
    assert model_file.job_attempts == 0
    model_file.version.refresh_from_db()
    assert model_file.version.status == Status.IN_REVIEW
    assert model_file.version.decision == "hold"
    assert "could not be checked" in model_file.version.hold_reason


def test_a_direct_call_of_the_task_raises_the_transient_error_and_leaves_the_row_to_the_retry():
    model_file = _pending_file(None)
    with pytest.raises(FileNotFoundError):
        tasks.hash_model_file(model_file.pk)
    model_file.refresh_from_db()
    assert model_file.hash_status == JobStatus.RUNNING
    assert model_file.hash_error.startswith("Will try again: FileNotFoundError")


def test_task_for_a_row_that_is_gone_returns_quietly():
    tasks.hash_model_file(987654)
    tasks.process_gallery_image(987654)
    assert not ModelFile.objects.filter(pk=987654).exists()


def test_image_task_marks_an_unreadable_image_as_error():
    image = ImageFactory(process_status=JobStatus.PENDING, thumbnail="")
    image.image.save("x.png", ContentFile(b"not an image"))
    tasks.process_gallery_image(image.pk)
    image.refresh_from_db()
    assert image.process_status == JobStatus.ERROR and image.process_error


def test_version_waits_for_every_file_and_image():
    model_file = _pending_file(b"abc")
    image = ImageFactory(version=model_file.version, process_status=JobStatus.PENDING)
    tasks.hash_model_file(model_file.pk)
    model_file.version.refresh_from_db()
    assert model_file.version.status == Status.IN_REVIEW
    GalleryImage.objects.filter(pk=image.pk).update(process_status=JobStatus.DONE)
    assert pipeline.version_decide(version_id=model_file.version_id) == "publish"
    model_file.version.refresh_from_db()
    assert model_file.version.status == Status.PUBLISHED
    assert model_file.version.model.status == Status.PUBLISHED


def test_tasks_are_enqueued_only_after_commit(django_capture_on_commit_callbacks, monkeypatch):
    sent: list[tuple[str, int]] = []
    monkeypatch.setattr(tasks.hash_model_file, "delay", lambda pk: sent.append(("hash", pk)))
    monkeypatch.setattr(tasks.process_gallery_image, "delay", lambda pk: sent.append(("img", pk)))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        tasks.enqueue_version_processing([1, 2], [3])
        from django.db import transaction

        transaction.on_commit(lambda: tasks.enqueue_version_processing([4], []))
    assert sent == [("hash", 1), ("hash", 2), ("img", 3)]  # direct call sends at once
    assert len(callbacks) == 1  # the on_commit one waits for the commit
    callbacks[0]()
    assert sent[-1] == ("hash", 4)


def test_broker_down_does_not_fail_the_upload(monkeypatch, caplog):
    """kombu's OperationalError (broker unreachable) is logged; the rows stay PENDING for the
    sweeper. The real Redis-down fault test arrives with the checks issue (BAD_INPUTS 41)."""

    def refuse(pk: int) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.hash_model_file, "delay", refuse)
    model_file = _pending_file(b"abc")
    tasks.enqueue_version_processing([model_file.pk], [])
    model_file.refresh_from_db()
    assert model_file.hash_status == JobStatus.PENDING
    assert "Could not enqueue processing" in caplog.text


def test_sweeper_sends_again_hashes_scans_and_thumbnails_nobody_is_doing(monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    long_ago = timezone.now() - timedelta(hours=3)
    lost_hash = _pending_file(b"abc")
    dead_scan = FileFactory(hash_status=JobStatus.DONE, scan_result="Running")
    fresh_scan = FileFactory(hash_status=JobStatus.DONE, scan_result="Running")
    lost_image = ImageFactory(process_status=JobStatus.PENDING)
    ModelFile.objects.filter(pk__in=[lost_hash.pk, dead_scan.pk]).update(job_updated_at=long_ago)
    GalleryImage.objects.filter(pk=lost_image.pk).update(job_updated_at=long_ago)
    sent = []
    monkeypatch.setattr(
        tasks, "enqueue_version_processing", lambda *ids: sent.append([list(i) for i in ids])
    )
    assert tasks.sweep_stuck_jobs() == 3
    assert sent == [[[lost_hash.pk], [lost_image.pk], [dead_scan.pk]]]
    assert ModelFile.objects.get(pk=dead_scan.pk).scan_result == "Pending"
    assert ModelFile.objects.get(pk=fresh_scan.pk).scan_result == "Running"


def test_a_running_hash_is_taken_back_only_by_a_redelivery_of_its_own_message():
    model_file = _pending_file(b"abc")
    ModelFile.objects.filter(pk=model_file.pk).update(
        hash_status=JobStatus.RUNNING, job_task_id="first"
    )
    services.model_file_hash(file_id=model_file.pk, task_id="second")
    assert ModelFile.objects.get(pk=model_file.pk).hash_status == JobStatus.RUNNING
    services.model_file_hash(file_id=model_file.pk, task_id="first")
    model_file.refresh_from_db()
    assert model_file.hash_status == JobStatus.DONE and model_file.sha256
