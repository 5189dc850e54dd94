"""Writes for the checks and the protected-person registry. Tasks, admin and the upload
service call these; each is safe to run twice."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageOps

from models_hub.choices import JobStatus
from models_hub.formats.images import ImageRejected, open_checked_image
from models_hub.jobs import TRANSIENT_ERRORS, JobRow, describe_error
from models_hub.models import ModelVersion
from moderation import pipeline
from moderation.checks import faces, image_checks, license, nudity
from moderation.checks.findings import Finding
from moderation.models import CheckRun, ProtectedPerson, ProtectedPhoto

log = logging.getLogger(__name__)

TEXT_CHECK_VERSION = 1

CHECKERS: dict[str, tuple[Callable, int]] = {
    CheckRun.Kind.LICENSE: (lambda run: license.run(run.version), license.CHECKER_VERSION),
    CheckRun.Kind.TEXT_LIKENESS: (
        lambda run: image_checks.run_text_likeness(run.version),
        TEXT_CHECK_VERSION,
    ),
    CheckRun.Kind.NSFW: (lambda run: image_checks.run_nsfw(run.image), nudity.DETECTOR_VERSION),
    CheckRun.Kind.LIKENESS: (
        lambda run: image_checks.run_likeness(run.image),
        faces.FACES_VERSION,
    ),
}
IMAGE_CHECKS = (CheckRun.Kind.NSFW, CheckRun.Kind.LIKENESS)
VERSION_CHECKS = (CheckRun.Kind.LICENSE, CheckRun.Kind.TEXT_LIKENESS)


CHECK_JOB = JobRow(
    CheckRun, "state", JobStatus.PENDING, JobStatus.RUNNING, JobStatus.ERROR,
    message="error", claimable=(JobStatus.PENDING,),
    attempts="attempts", task="task_id", changed="updated_at", finished="finished_at",
)  # fmt: skip


def checks_create_for_version(*, version: ModelVersion) -> list[int]:
    """The CheckRun rows of a new version (called inside the upload's transaction).

    Returns the ids to enqueue after commit; rows that already exist are left alone.
    """
    rows = [CheckRun(kind=check, version=version) for check in VERSION_CHECKS]
    rows += [
        CheckRun(kind=check, version=version, image=image)
        for image in version.images.all()
        for check in IMAGE_CHECKS
    ]
    CheckRun.objects.bulk_create(rows, ignore_conflicts=True)
    return list(
        CheckRun.objects.filter(version=version, state=JobStatus.PENDING).values_list(
            "pk", flat=True
        )
    )


def check_run_execute(*, run_id: int, task_id: str = "") -> None:
    """Run one check and store what it found, then let the pipeline decide."""
    if not CHECK_JOB.start(run_id, task_id, started_at=timezone.now()):
        return
    run = CheckRun.objects.select_related("version__model", "image").get(pk=run_id)
    check, checker_version = CHECKERS[run.kind]
    started = time.perf_counter()
    try:
        findings, result = check(run)
    except ImageRejected as exc:
        CHECK_JOB.give_up(run.pk, f"The image could not be read: {exc}")
        return
    except TRANSIENT_ERRORS as exc:
        CHECK_JOB.release(run.pk, describe_error(exc))
        raise
    except Exception as exc:  # noqa: BLE001 - a check that crashes on an input is not clean
        log.exception("Check %s of run %s failed", run.kind, run.pk)
        CHECK_JOB.give_up(run.pk, f"The check failed: {describe_error(exc)}")
        return
    run.findings = [finding.as_json() for finding in findings]
    run.result = result
    run.state = JobStatus.DONE
    run.error = ""
    run.checker_version = checker_version
    run.finished_at = timezone.now()
    run.duration_ms = round((time.perf_counter() - started) * 1000)
    run.save(
        update_fields=["findings", "result", "state", "error", "checker_version",
                       "finished_at", "duration_ms", "updated_at"]
    )  # fmt: skip
    pipeline.version_decide(version_id=run.version_id)


def stuck_check_runs() -> list[int]:
    """Checks no worker is doing, made PENDING again, for the sweeper to send once more."""
    return CHECK_JOB.stuck()


# --- The protected-person registry ----------------------------------------------------------


def reference_picture(stream) -> Image.Image:
    """A reference photo, checked and upright: a phone portrait is stored sideways with an
    orientation tag, and dlib finds no face lying on its side. Raises ImageRejected."""
    picture = open_checked_image(stream, max_pixels=settings.HUB_MAX_IMAGE_PIXELS)
    return ImageOps.exif_transpose(picture).convert("RGB")


class PhotoRejected(ValueError):
    """A reference photo that cannot be used; the message says why, for a person."""


def protected_photo_add(*, person: ProtectedPerson, stream, rescan: bool = True) -> ProtectedPhoto:
    """Store a reference photo with its face embedding. It must show exactly one face.
    Adding several photos at once: pass rescan=False and call registry_changed once."""
    try:
        picture = reference_picture(stream)
    except ImageRejected as exc:
        raise PhotoRejected(str(exc)) from None
    found = faces.find_faces(picture)
    if len(found) != 1:
        raise PhotoRejected(
            f"A reference photo must show exactly one face; this one shows {len(found)}."
        )
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90)
    photo = ProtectedPhoto(person=person, embedding=list(found[0].embedding))
    photo.image.save("reference.jpg", ContentFile(out.getvalue()), save=False)
    photo.save()
    if rescan:
        registry_changed(person=person)
    return photo


def registry_changed(*, person: ProtectedPerson) -> None:
    """Compare every checked image and version with the person again, after commit."""
    from moderation import tasks

    transaction.on_commit(lambda: tasks.enqueue_registry_rescan(person.pk), robust=True)


RESCAN_TARGETS = ("images", "versions")


def registry_rescan_batch(
    *, person_id: int, target: str = "images", after_id: int = 0
) -> tuple[list[int], int]:
    """Compare one person with a batch of already checked images (by the face embeddings
    each likeness run kept, so no detector runs again) or version texts.

    Returns the versions with a new match and the id to continue after (0 when `target`
    is done).
    """
    batch_size = settings.HUB_RESCAN_BATCH_SIZE
    entries = image_checks.name_entries([person_id])
    if target == "images":
        refs = image_checks.references([person_id])
        runs = list(
            CheckRun.objects.filter(
                kind=CheckRun.Kind.LIKENESS, state=JobStatus.DONE, image_id__gt=after_id
            )
            .select_related("image")
            .order_by("image_id")[:batch_size]
        )
        cursor = [run.image_id for run in runs]
        found = [
            image_checks.image_likeness_findings(
                run.image, image_checks.stored_faces(run.result), refs, entries
            )
            for run in runs
        ]
    else:
        runs = list(
            CheckRun.objects.filter(
                kind=CheckRun.Kind.TEXT_LIKENESS, state=JobStatus.DONE, version_id__gt=after_id
            )
            .select_related("version__model")
            .prefetch_related("version__model__tags")
            .order_by("version_id")[:batch_size]
        )
        cursor = [run.version_id for run in runs]
        found = [image_checks.text_likeness_findings(run.version, entries) for run in runs]
    touched = sorted(
        {run.version_id for run, new in zip(runs, found, strict=True) if _add_findings(run, new)}
    )
    for version_id in touched:
        pipeline.version_decide(version_id=version_id)
    return touched, cursor[-1] if len(runs) == batch_size else 0


def _add_findings(run: CheckRun, new: list[Finding]) -> bool:
    if not new:
        return False
    with transaction.atomic():
        # Read again under a lock: two rescans (two people) may add to the same run at once.
        run = CheckRun.objects.select_for_update().get(pk=run.pk)
        known = {Finding.from_json(f).key for f in run.findings}
        fresh = [f.as_json() for f in new if f.key not in known]
        if fresh:
            run.findings = [*run.findings, *fresh]
            run.save(update_fields=["findings", "updated_at"])
    return bool(fresh)
