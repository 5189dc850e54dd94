"""Hashes, scans and thumbnails against the faults of BAD_INPUTS rows 39 and 44: an input that
kills its worker every time ends as ERROR after the attempt limit; a storage that fails or a
disk that fills is retried with backoff, then ends as ERROR with the reason, leaving no
partial file behind."""

from __future__ import annotations

import resource

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages

from config.celery import app as celery_app
from models_hub import services, tasks
from models_hub.choices import FileFormat, JobStatus, ScanResult, Status
from models_hub.demo import make_image
from models_hub.models import GalleryImage, ModelFile
from tests.factories import FileFactory, ImageFactory, VersionFactory
from tests.models_hub.test_s3_storage import start_moto_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def retries_run_inline(monkeypatch):
    """apply() then runs a task as a worker would, its retries included (without the waits)."""
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", False)


def _waiting_version():
    return VersionFactory(status=Status.IN_REVIEW, publish_requested=True)


def _hash_job(version):
    row = FileFactory(version=version, hash_status=JobStatus.RUNNING, sha256="")
    row.file.save("upload", ContentFile(b"x" * 1000))
    return services.model_file_hash, {"file_id": row.pk}, row, "hash_status", "hash_error"


def _scan_job(version):
    row = FileFactory(version=version, format=FileFormat.PICKLETENSOR, sha256="ab" * 32,
                      scan_result=ScanResult.RUNNING)  # fmt: skip
    row.file.save("upload", ContentFile(b"\x80\x02}q\x00."))
    return services.model_file_scan, {"file_id": row.pk}, row, "scan_result", "scan_message"


def _thumbnail_job(version):
    row = ImageFactory(version=version, process_status=JobStatus.RUNNING, thumbnail="")
    row.image.save("x.png", ContentFile(make_image(seed=1, size=(64, 64))))
    return (
        services.gallery_image_process,
        {"image_id": row.pk},
        row,
        "process_status",
        ("process_error"),
    )


@pytest.mark.parametrize("make_job", [_hash_job, _scan_job, _thumbnail_job])
def test_a_job_whose_worker_died_every_time_is_given_up_after_the_attempt_limit(make_job, settings):
    settings.HUB_JOB_MAX_ATTEMPTS = 3
    version = _waiting_version()
    run, kwargs, row, status, message = make_job(version)
    # Three deliveries of the same message started and their worker died (the row stayed
    # RUNNING with their task id); the fourth redelivery gives up instead of a fourth death.
    type(row).objects.filter(pk=row.pk).update(job_attempts=3, job_task_id="deadly")
    run(task_id="deadly", **kwargs)
    row.refresh_from_db()
    assert getattr(row, status) in (JobStatus.ERROR, ScanResult.ERROR)
    assert getattr(row, message) == "Gave up after 3 attempts that did not finish."
    version.refresh_from_db()
    assert (version.status, version.decision) == (Status.IN_REVIEW, "hold")
    assert "Gave up after 3 attempts" in version.hold_reason
    assert "Staff will look at it" in version.hold_reason


@pytest.mark.parametrize("make_job", [_hash_job, _scan_job, _thumbnail_job])
def test_a_redelivery_within_the_limit_still_does_the_job(make_job, settings):
    settings.HUB_JOB_MAX_ATTEMPTS = 3
    run, kwargs, row, status, _ = make_job(_waiting_version())
    type(row).objects.filter(pk=row.pk).update(job_attempts=2, job_task_id="unlucky")
    run(task_id="unlucky", **kwargs)
    row.refresh_from_db()
    assert getattr(row, status) in (JobStatus.DONE, ScanResult.SUCCESS)


def test_hashing_resets_the_attempts_so_that_the_scan_counts_its_own():
    version = _waiting_version()
    row = FileFactory(version=version, format=FileFormat.PICKLETENSOR, sha256="",
                      hash_status=JobStatus.PENDING, scan_result=ScanResult.PENDING)  # fmt: skip
    row.file.save("upload", ContentFile(b"\x80\x02}q\x00."))
    ModelFile.objects.filter(pk=row.pk).update(job_attempts=2)
    services.model_file_hash(file_id=row.pk, task_id="t")
    row.refresh_from_db()
    assert (row.hash_status, row.job_attempts) == (JobStatus.DONE, 0)


def _thumbnail_files(settings) -> list:
    thumbs = settings.MEDIA_ROOT / "thumbs"
    return sorted(p for p in thumbs.rglob("*") if p.is_file()) if thumbs.exists() else []


def test_a_full_disk_while_writing_a_thumbnail_is_retried_then_error_and_leaves_no_file(
    disk_that_fills_at, retries_run_inline, settings
):
    version = _waiting_version()
    image = ImageFactory(version=version, process_status=JobStatus.PENDING, thumbnail="")
    image.image.save("x.png", ContentFile(make_image(seed=3, size=(1024, 1024))))
    disk_that_fills_at(4096)  # the WebP thumbnail of a noisy 1024 px image is far bigger
    try:
        tasks.process_gallery_image.apply((image.pk,))
    finally:
        disk_that_fills_at(resource.RLIM_INFINITY)
    image.refresh_from_db()
    assert image.process_status == JobStatus.ERROR
    assert image.process_error.startswith("Gave up after 6 tries; the last: OSError")
    assert "File too large" in image.process_error
    assert not image.thumbnail
    assert _thumbnail_files(settings) == [], "a partly written thumbnail was left behind"
    version.refresh_from_db()
    assert version.decision == "hold" and "could not be processed" in version.hold_reason

    # With room on the disk again, sending the job again (staff, or a later sweep) makes it.
    tasks.process_gallery_image.apply((image.pk,))
    image.refresh_from_db()
    assert image.process_status == JobStatus.DONE
    assert [p.name for p in _thumbnail_files(settings)] == [image.thumbnail.name.split("/")[-1]]


@pytest.fixture
def s3_that_goes_away(settings):
    """A moto S3 server of this test's own, so that stopping it touches no other test."""
    server, endpoint = start_moto_server()
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    ).create_bucket(Bucket="jobs")  # fmt: skip
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "jobs", "endpoint_url": endpoint, "region_name": "us-east-1",
                "access_key": "test", "secret_key": "test", "addressing_style": "path",
                "file_overwrite": False,
            },
        },
    }  # fmt: skip
    yield server
    if server.poll() is None:
        server.terminate()
        server.wait(timeout=10)


def test_an_s3_storage_that_stops_answering_is_retried_then_the_hash_ends_as_error(
    s3_that_goes_away, retries_run_inline
):
    version = _waiting_version()
    row = FileFactory(version=version, hash_status=JobStatus.PENDING, sha256="")
    storage = storages["default"]
    row.file = storage.save("models/00/stored.safetensors", ContentFile(b"y" * 5000))
    row.save()
    s3_that_goes_away.terminate()
    s3_that_goes_away.wait(timeout=10)
    tasks.hash_model_file.apply((row.pk,))
    row.refresh_from_db()
    assert row.hash_status == JobStatus.ERROR
    assert row.hash_error.startswith("Gave up after 6 tries; the last: EndpointConnectionError")
    version.refresh_from_db()
    assert version.decision == "hold" and "could not be checked" in version.hold_reason


def test_the_sweeper_leaves_a_given_up_job_alone(settings):
    settings.HUB_SWEEP_PENDING_AFTER = 0
    image = ImageFactory(version=_waiting_version(), process_status=JobStatus.ERROR)
    assert image.pk not in services.stuck_jobs()[2]
    assert GalleryImage.objects.get(pk=image.pk).process_status == JobStatus.ERROR


def test_a_pickle_whose_hash_is_given_up_is_not_left_waiting_for_its_scan(retries_run_inline):
    version = _waiting_version()
    row = FileFactory(version=version, format=FileFormat.PICKLETENSOR, sha256="",
                      hash_status=JobStatus.PENDING, scan_result=ScanResult.PENDING)  # fmt: skip
    # The row says stored; the storage has nothing: hashing is retried, then given up.
    tasks.hash_model_file.apply((row.pk,))
    row.refresh_from_db()
    assert (row.hash_status, row.scan_result) == (JobStatus.ERROR, ScanResult.ERROR)
    assert row.scan_message.startswith("Not done: Gave up after 6 tries")
    version.refresh_from_db()
    assert version.decision == "hold" and "could not be checked" in version.hold_reason
    # Staff who looked at it may still publish it.
    services.version_publish(version=version, allow_unchecked=True)
    version.refresh_from_db()
    assert version.status == Status.PUBLISHED


def test_the_sweeper_sends_a_waiting_job_again_once_per_interval_not_every_sweep(settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.HUB_SWEEP_PENDING_AFTER = 900
    image = ImageFactory(version=_waiting_version(), process_status=JobStatus.PENDING)
    long_ago = timezone.now() - timedelta(seconds=1000)
    GalleryImage.objects.filter(pk=image.pk).update(job_updated_at=long_ago)
    assert image.pk in services.stuck_jobs()[2]
    # The next sweep, a few minutes later, finds it already sent again.
    assert image.pk not in services.stuck_jobs()[2]
