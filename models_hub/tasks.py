"""Thin Celery entry points: load by id, call one service. Safe to deliver twice."""

from __future__ import annotations

import logging

from celery import shared_task
from kombu.exceptions import OperationalError

from models_hub import services
from models_hub.jobs import run_with_retries

log = logging.getLogger(__name__)


# A transient error (the database or storage had a moment) is retried with backoff; once the
# retries are used up the row ends as ERROR with the reason, so the pipeline holds it.


@shared_task(name="models_hub.hash_model_file", bind=True, acks_late=True, max_retries=5)
def hash_model_file(self, file_id: int) -> None:
    run_with_retries(
        self,
        services.HASH_JOB,
        file_id,
        lambda task_id: services.model_file_hash(file_id=file_id, task_id=task_id),
    )


@shared_task(name="models_hub.process_gallery_image", bind=True, acks_late=True, max_retries=5)
def process_gallery_image(self, image_id: int) -> None:
    run_with_retries(
        self,
        services.THUMBNAIL_JOB,
        image_id,
        lambda task_id: services.gallery_image_process(image_id=image_id, task_id=task_id),
    )


@shared_task(name="models_hub.scan_model_file", bind=True, acks_late=True, max_retries=5)
def scan_model_file(self, file_id: int) -> None:
    run_with_retries(
        self,
        services.SCAN_JOB,
        file_id,
        lambda task_id: services.model_file_scan(file_id=file_id, task_id=task_id),
    )


@shared_task(name="models_hub.sweep_stale_uploads")
def sweep_stale_uploads() -> int:
    from models_hub.uploads import uploads_sweep_stale

    return uploads_sweep_stale()


def enqueue_scan(file_id: int) -> None:
    try:
        scan_model_file.delay(file_id)
    except OperationalError:
        log.exception("Could not enqueue the scan of file %s", file_id)


def enqueue_version_processing(
    file_ids: list[int], image_ids: list[int], scan_ids: list[int] = ()
) -> None:
    """Queue the work for a new version. Called after commit.

    A broker that is down must not fail the upload: the rows stay PENDING and the sweeper
    (moderation.sweep_stuck_work) sends them again, so the error is only logged.
    """
    try:
        for file_id in file_ids:
            hash_model_file.delay(file_id)
        for image_id in image_ids:
            process_gallery_image.delay(image_id)
        for file_id in scan_ids:
            scan_model_file.delay(file_id)
    except OperationalError:
        log.exception("Could not enqueue processing for files %s images %s", file_ids, image_ids)


def sweep_stuck_jobs() -> int:
    """Send again the hashes, scans and thumbnails no worker is doing; returns how many."""
    to_hash, to_scan, images = services.stuck_jobs()
    enqueue_version_processing(to_hash, images, to_scan)
    return len(to_hash) + len(to_scan) + len(images)
