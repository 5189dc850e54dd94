"""Writes to the catalogue. Views, commands, tasks and (later) the API all call these."""

from __future__ import annotations

import io
import logging
import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from models_hub.choices import FileFormat, FileType, JobStatus, NsfwLevel, ScanResult, Status
from models_hub.formats.detect import Detected
from models_hub.formats.hashing import HASH_LABELS, hash_stream
from models_hub.formats.images import ImageRejected, ProcessedImage, make_previews
from models_hub.formats.pickles import SCANNER_VERSION, scan_model_stream
from models_hub.formats.pickles import describe as describe_scan
from models_hub.jobs import TRANSIENT_ERRORS, JobRow, describe_error
from models_hub.models import (
    BaseModel,
    DownloadDay,
    GalleryImage,
    License,
    Model,
    ModelFile,
    ModelVersion,
    Tag,
    VersionParent,
    files_state,
    gallery_thumbnail_key,
    new_gallery_image_key,
    new_model_file_key,
)
from models_hub.validation import (
    check_not_suspended,
    inspect_model_upload,
    license_permission_errors,
    normalise_display_name,
)

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile

    from community.models import User

log = logging.getLogger(__name__)
MAX_TAGS = 20
NO_CODE_MESSAGES = {
    FileFormat.SAFETENSOR: "Safetensors: header checked in full; the format cannot carry code.",
    FileFormat.GGUF: "GGUF: the format cannot carry code.",
    FileFormat.ONNX: "ONNX: the format cannot carry Python code.",
    FileFormat.OTHER: "Text config file.",
}
HASH_FIELDS = tuple(HASH_LABELS.values())


@dataclass(frozen=True)
class ExternalParent:
    name: str
    external_hash: str = ""
    external_url: str = ""


def normalise_tags(raw: list[str]) -> list[str]:
    seen: list[str] = []
    for tag in raw:
        name = " ".join(tag.strip().lower().split())[:50]
        if name and name not in seen:
            seen.append(name)
    return seen[:MAX_TAGS]


def model_refresh_search_document(*, model: Model) -> None:
    """Rebuild the text that full-text search reads for one model.

    Only published versions contribute: a draft's trigger words must not be findable.
    """
    words: list[str] = []
    for trained_words in model.versions.filter(status=Status.PUBLISHED).values_list(
        "trained_words", flat=True
    ):
        words.extend(str(word) for word in trained_words)
    parts = [
        model.name,
        " ".join(model.tags.values_list("name", flat=True)),
        model.owner.username,
        " ".join(words),
        model.description[:5000],
    ]
    model.search_document = "\n".join(part for part in parts if part)
    model.save(update_fields=["search_document"])


@dataclass(frozen=True)
class _StoredModelFile:
    key: str
    display_name: str
    size: int
    detected: Detected
    hashes: dict[str, str] | None  # known already when a resumable upload computed them


@dataclass(frozen=True)
class _StoredImage:
    key: str
    processed: ProcessedImage


def _store_model_files(uploads: list[UploadedFile], stored: list[str]) -> list[_StoredModelFile]:
    """Check each file by its content and write it to storage under a generated key."""
    result = []
    for index, uploaded in enumerate(uploads):
        if getattr(uploaded, "already_stored_key", None):
            # A direct upload: checked when it completed, already in the bucket.
            result.append(
                _StoredModelFile(
                    key=uploaded.already_stored_key,
                    display_name=normalise_display_name(uploaded.name, fallback="model"),
                    size=uploaded.size,
                    detected=uploaded.detected(),
                    hashes=uploaded.known_hashes,
                )
            )
            continue
        try:
            detected = inspect_model_upload(uploaded)
        except ValidationError as exc:
            raise ValidationError({"model_files": exc.messages}) from None
        key = default_storage.save(new_model_file_key(detected.format), uploaded)
        stored.append(key)
        if hasattr(uploaded, "upload"):
            uploaded.stored_key = key  # where its bytes went, in case they must go back
        result.append(
            _StoredModelFile(
                key=key,
                display_name=normalise_display_name(uploaded.name, fallback=f"file-{index + 1}"),
                size=uploaded.size,
                detected=detected,
                hashes=getattr(uploaded, "known_hashes", None),
            )
        )
    return result


def _store_images(images: list[ProcessedImage], stored: list[str]) -> list[_StoredImage]:
    result = []
    for processed in images:
        key = default_storage.save(
            new_gallery_image_key(processed.extension), ContentFile(processed.content)
        )
        stored.append(key)
        result.append(_StoredImage(key=key, processed=processed))
    return result


@transaction.atomic
def _write_rows(
    *,
    owner: User,
    model: Model | None,
    files: list[_StoredModelFile],
    images: list[_StoredImage],
    name: str,
    type: str,
    description: str,
    tags: list[str],
    license: License,
    license_other_url: str,
    license_other_text: str,
    allow_commercial_use: str,
    allow_no_credit: bool,
    allow_derivatives: bool,
    allow_different_license: bool,
    version_name: str,
    base_model: BaseModel,
    trained_words: list[str],
    version_description: str,
    nsfw_level: int,
    parent_versions: list[ModelVersion],
    external_parents: list[ExternalParent],
    publish: bool,
) -> ModelVersion:
    """Every row of an upload, in one short transaction (the bytes are already stored)."""
    if model is None:
        model = Model(
            owner=owner,
            status=Status.IN_REVIEW if publish else Status.DRAFT,
            name=name,
            type=type,
            description=description,
            license=license,
            license_other_url=license_other_url if license.is_other else "",
            license_other_text=license_other_text if license.is_other else "",
            allow_commercial_use=allow_commercial_use,
            allow_no_credit=allow_no_credit,
            allow_derivatives=allow_derivatives,
            allow_different_license=allow_different_license,
            nsfw_level=nsfw_level,
        )
        model.full_clean(exclude=["cover_image"])
        model.save()
        model.tags.set([Tag.objects.get_or_create(name=tag)[0] for tag in normalise_tags(tags)])
        model_refresh_search_document(model=model)
    # An existing model is left as it is: only a version is added to it.

    version = ModelVersion(
        model=model,
        name=version_name,
        description=version_description,
        base_model=base_model,
        trained_words=[w.strip()[:100] for w in trained_words if w.strip()][:50],
        status=Status.IN_REVIEW if publish else Status.DRAFT,
        nsfw_level=nsfw_level,
        declared_nsfw_level=nsfw_level,
        publish_requested=publish,
    )
    version.full_clean()
    version.save()

    for parent in parent_versions:
        VersionParent.objects.create(version=version, parent_version=parent, name=str(parent)[:200])
    for parent in external_parents:
        row = VersionParent(
            version=version,
            name=parent.name[:200],
            external_hash=parent.external_hash.lower(),
            external_url=parent.external_url,
        )
        row.full_clean()
        row.save()

    first_model_file = next((f for f in files if f.detected.format != "Other"), None)
    now = timezone.now()
    for stored_file in files:
        detected = stored_file.detected
        needs_scan = detected.format == FileFormat.PICKLETENSOR
        ModelFile.objects.create(
            version=version,
            file=stored_file.key,
            name=stored_file.display_name,
            size_bytes=stored_file.size,
            format=detected.format,
            file_type=FileType.CONFIG if detected.format == "Other" else FileType.MODEL,
            precision=detected.precision,
            is_primary=stored_file is first_model_file,
            tensor_count=detected.tensor_count,
            metadata=detected.metadata,
            named_parents=[asdict(parent) for parent in detected.parents],
            # Formats that cannot carry code are checked in full at upload (the header
            # reader for safetensors); pickles wait for the scan worker.
            scan_result=ScanResult.PENDING if needs_scan else ScanResult.SUCCESS,
            scan_message="" if needs_scan else NO_CODE_MESSAGES.get(detected.format, ""),
            scanned_at=None if needs_scan else now,
            **({**stored_file.hashes, "hash_status": JobStatus.DONE} if stored_file.hashes else {}),
        )
    for position, stored_image in enumerate(images):
        GalleryImage.objects.create(
            version=version,
            image=stored_image.key,
            width=stored_image.processed.width,
            height=stored_image.processed.height,
            nsfw_level=nsfw_level,
            generation_params=stored_image.processed.generation_params,
            position=position,
        )

    # Background work starts only once every row above is committed. `robust`: a broker
    # problem after the commit is logged, never turned into a failed upload.
    from models_hub import tasks
    from moderation import services as checks
    from moderation import tasks as check_tasks

    files_to_hash = list(
        version.files.filter(hash_status=JobStatus.PENDING).values_list("id", flat=True)
    )
    # Files that arrived hashed go straight to the scan (when they need one).
    files_to_scan = list(
        version.files.filter(
            hash_status=JobStatus.DONE, scan_result=ScanResult.PENDING
        ).values_list("id", flat=True)
    )
    image_ids = list(version.images.values_list("id", flat=True))
    check_ids = checks.checks_create_for_version(version=version)
    transaction.on_commit(
        lambda: tasks.enqueue_version_processing(files_to_hash, image_ids, files_to_scan),
        robust=True,
    )
    transaction.on_commit(lambda: check_tasks.enqueue_checks(check_ids), robust=True)
    return version


def model_upload(
    *,
    owner: User,
    model: Model | None = None,
    model_files: list[UploadedFile],
    images: list[ProcessedImage],
    **fields,
) -> ModelVersion:
    """Create a model (or a new version of `model`) with its files, images and parents.

    For a new version the model-level fields (name, license, permissions...) are the
    model's own, passed for the same checks; the model row itself is not rewritten.

    The bytes go to storage first, under generated keys, and the rows follow in one short
    transaction, so a multi-GB copy never holds a database lock. Either everything exists
    afterwards or nothing does: a failure deletes what was already stored.
    """
    check_not_suspended(owner)
    permission_errors = license_permission_errors(
        license=fields["license"],
        allow_commercial_use=fields["allow_commercial_use"],
        allow_no_credit=fields["allow_no_credit"],
        allow_derivatives=fields["allow_derivatives"],
        allow_different_license=fields["allow_different_license"],
        license_other_url=fields["license_other_url"],
        license_other_text=fields["license_other_text"],
    )
    if permission_errors:
        raise ValidationError(permission_errors)
    if model is not None and model.owner_id != owner.pk:
        raise ValidationError("You can only add versions to your own models.")
    if not model_files:
        raise ValidationError({"model_files": "Add at least one model file."})
    from models_hub.uploads import uploads_claim, uploads_mark_used, uploads_release

    uploads_claim(files=model_files)
    stored: list[str] = []
    try:
        stored_files = _store_model_files(model_files, stored)
        stored_images = _store_images(images, stored)
        version = _write_rows(
            owner=owner, model=model, files=stored_files, images=stored_images, **fields
        )
    except BaseException:
        _undo_storage(stored, model_files)
        uploads_release(files=model_files)
        raise
    uploads_mark_used(files=model_files)
    return version


def _undo_storage(stored: list[str], sources: list) -> None:
    """Remove what a failed upload stored; bytes that local storage moved out of a resumable
    upload go back to where they came from, so that upload can still be attached."""
    moved_from = {
        getattr(source, "stored_key", None): source.temporary_file_path()
        for source in sources
        if hasattr(source, "upload") and getattr(source, "stored_key", None)
    }
    for key in stored:
        try:
            if key in moved_from and isinstance(default_storage, FileSystemStorage):
                os.replace(default_storage.path(key), moved_from[key])
            else:
                default_storage.delete(key)
        except OSError:
            log.exception("Could not undo %s after a failed upload", key)


# --- Background processing (called by tasks; each step is safe to run twice) --------------


SCAN_JOB = JobRow(
    ModelFile, "scan_result", ScanResult.PENDING, ScanResult.RUNNING, ScanResult.ERROR,
    message="scan_message", claimable=(ScanResult.PENDING,),
)  # fmt: skip
HASH_JOB = JobRow(
    ModelFile, "hash_status", JobStatus.PENDING, JobStatus.RUNNING, JobStatus.ERROR,
    message="hash_error", claimable=(JobStatus.PENDING, JobStatus.ERROR),
    blocks=(SCAN_JOB,),  # the scan starts after the hash (it reuses verdicts by SHA256)
)  # fmt: skip
THUMBNAIL_JOB = JobRow(
    GalleryImage, "process_status", JobStatus.PENDING, JobStatus.RUNNING, JobStatus.ERROR,
    message="process_error", claimable=(JobStatus.PENDING, JobStatus.ERROR),
)  # fmt: skip


def model_file_hash(*, file_id: int, task_id: str = "") -> None:
    """Hash a stored model file in one pass, then publish its version if it was waiting."""
    if not HASH_JOB.start(file_id, task_id):
        return
    model_file = ModelFile.objects.get(pk=file_id)
    try:
        with model_file.file.open("rb") as stream:
            hashes = hash_stream(stream, safetensors=model_file.format == "SafeTensor")
    except TRANSIENT_ERRORS as exc:
        HASH_JOB.release(file_id, describe_error(exc))
        raise
    except Exception as exc:  # noqa: BLE001 - never leave the row RUNNING
        HASH_JOB.give_up(file_id, f"Could not hash the file: {describe_error(exc)}")
        return
    for name in HASH_FIELDS:
        setattr(model_file, name, getattr(hashes, name))
    model_file.hash_status = JobStatus.DONE
    model_file.hash_error = ""
    model_file.job_attempts = 0  # the scan, if one follows, counts its own
    model_file.save(update_fields=[*HASH_FIELDS, "hash_status", "hash_error", "job_attempts"])
    if model_file.scan_result == ScanResult.PENDING:
        # Scanned after hashing, so that a file already scanned under the same SHA256
        # reuses that result instead of being scanned again.
        from models_hub import tasks

        transaction.on_commit(lambda: tasks.enqueue_scan(file_id), robust=True)
    version_decide(model_file.version_id)


def model_file_scan(*, file_id: int, task_id: str = "") -> None:
    """Scan a pickle-bearing file (our scanner and picklescan); quarantine it on Danger."""
    if not SCAN_JOB.start(file_id, task_id):
        return
    model_file = ModelFile.objects.get(pk=file_id)
    same_content = (
        ModelFile.objects.filter(
            sha256=model_file.sha256,
            scan_result__in=[ScanResult.SUCCESS, ScanResult.DANGER, ScanResult.ERROR],
            scanned_at__isnull=False,
            scanner_version=SCANNER_VERSION,
        )
        .exclude(pk=file_id)
        .exclude(sha256="")
    )
    # The most severe verdict wins if copies of the same bytes were ever judged differently.
    earlier = next(
        (
            row
            for verdict in (ScanResult.DANGER, ScanResult.ERROR, ScanResult.SUCCESS)
            for row in same_content.filter(scan_result=verdict).order_by("scanned_at")[:1]
        ),
        None,
    )
    if earlier is not None:
        status, message, found = earlier.scan_result, earlier.scan_message, earlier.scan_globals
        message = (
            f"{message} (same content as file {earlier.pk}, scanned {earlier.scanned_at:%Y-%m-%d})"
        )
    else:
        try:
            with model_file.file.open("rb") as stream:
                result = scan_model_stream(stream, label=model_file.name)
        except TRANSIENT_ERRORS as exc:
            SCAN_JOB.release(file_id, describe_error(exc))
            raise
        except Exception as exc:  # noqa: BLE001 - a file that crashes the scanner is not clean
            status, found = ScanResult.ERROR, []
            message = f"Could not be checked: the scanner failed ({exc.__class__.__name__})."
        else:
            status, message = result.status, describe_scan(result)
            found = sorted(
                result.dangerous if result.status == ScanResult.DANGER else result.globals
            )
    model_file.scan_result = status
    model_file.scan_message = message[:2000]
    model_file.scan_globals = list(found)[:200]
    model_file.scanned_at = timezone.now()
    model_file.scanner_version = SCANNER_VERSION
    model_file.save(
        update_fields=["scan_result", "scan_message", "scan_globals", "scanned_at",
                       "scanner_version"]
    )  # fmt: skip
    version_decide(model_file.version_id)


def gallery_image_process(*, image_id: int, task_id: str = "") -> None:
    """Make the WebP thumbnail and the BlurHash of a gallery image, then publish its version
    if it was waiting."""
    if not THUMBNAIL_JOB.start(image_id, task_id):
        return
    image = GalleryImage.objects.get(pk=image_id)
    try:
        with image.image.open("rb") as stream:
            original = stream.read()  # bounded: HUB_MAX_IMAGE_BYTES at upload
    except TRANSIENT_ERRORS as exc:
        THUMBNAIL_JOB.release(image_id, describe_error(exc))
        raise
    try:
        previews = make_previews(io.BytesIO(original), max_pixels=settings.HUB_MAX_IMAGE_PIXELS)
    except ImageRejected as exc:
        THUMBNAIL_JOB.give_up(image_id, str(exc))
        return
    except Exception as exc:  # noqa: BLE001 - the image's fault: trying again would not help
        THUMBNAIL_JOB.give_up(image_id, f"Could not make a thumbnail: {describe_error(exc)}")
        return
    storage = image.thumbnail.storage
    # The key is ours (a fresh UUID) so that a write that fails part-way, a full disk, can
    # be deleted: the storage leaves what it had written.
    key = gallery_thumbnail_key(image, "thumb.webp")
    try:
        image.thumbnail.name = storage.save(key, ContentFile(previews.thumbnail))
        GalleryImage.objects.filter(pk=image_id).update(
            thumbnail=image.thumbnail.name,
            blurhash=previews.blurhash,
            process_status=JobStatus.DONE,
            process_error="",
            job_updated_at=timezone.now(),
        )
    except TRANSIENT_ERRORS as exc:
        _delete_quietly(storage, key)
        THUMBNAIL_JOB.release(image_id, describe_error(exc))
        raise
    version_decide(image.version_id)


def _delete_quietly(storage, key: str) -> None:
    try:
        storage.delete(key)
    except Exception:  # noqa: BLE001 - the storage is failing; the orphan is logged
        log.exception("Could not delete %s after a failed write", key)


def version_decide(version_id: int) -> None:
    """Let the checks pipeline look at the version: it acts once all its work is done."""
    from moderation import pipeline

    pipeline.version_decide(version_id=version_id)


class PublishRefused(Exception):
    """The owner may not ask for this version to be published; the message says why."""


def version_request_publish(*, version_id: int, owner: User) -> ModelVersion:
    """The owner asks for a draft to be published: it goes to review and is published as
    soon as its checks pass (at once, if they already have). Published stays published."""
    with transaction.atomic():
        version = (
            ModelVersion.objects.select_for_update()
            .filter(pk=version_id, model__owner=owner)
            .exclude(status=Status.DELETED)
            .first()
        )
        if version is None:
            raise ModelVersion.DoesNotExist
        check_not_suspended(owner)
        if version.status in (Status.PUBLISHED, Status.IN_REVIEW):
            return version
        if version.status != Status.DRAFT:
            raise PublishRefused(
                f"This version was {version.get_status_display().lower()} by staff; "
                "appeal the decision instead."
            )
        version.status = Status.IN_REVIEW
        version.publish_requested = True
        version.save(update_fields=["status", "publish_requested", "updated_at"])
    # Outside the lock: the pipeline locks the version itself. If its checks are done and
    # pass, it is published now; otherwise the last check to finish publishes it.
    version_decide(version.pk)
    version.refresh_from_db(fields=["status"])
    return version


@transaction.atomic
def version_publish(*, version: ModelVersion, allow_unchecked: bool = False) -> ModelVersion:
    """Make a version (and its model, on first publication) public.

    Refused while a file is quarantined (never, for anyone), not yet hashed or scanned, or
    could not be checked; staff who looked at an unchecked file pass `allow_unchecked`.
    """
    files = files_state(version.files.all())
    if files.quarantined:
        raise ValidationError("A quarantined file can never be published.")
    if files.processing:
        raise ValidationError("Its files are still being processed; try again when they are done.")
    if files.unchecked and not allow_unchecked:
        raise ValidationError("A file could not be checked; staff must look at it first.")
    now = timezone.now()
    first_publication = version.published_at is None
    version.status = Status.PUBLISHED
    version.published_at = version.published_at or now
    version.publish_requested = False
    version.hold_reason = ""
    version.save(
        update_fields=["status", "published_at", "publish_requested", "hold_reason", "updated_at"]
    )
    model = Model.objects.select_for_update().get(pk=version.model_id)
    model_refresh_derived(model=model)
    model_refresh_search_document(model=model)
    if model.status in (Status.DRAFT, Status.IN_REVIEW):
        model.status = Status.PUBLISHED
        model.published_at = model.published_at or now
        model.save(update_fields=["status", "published_at"])
    if first_publication:
        # Followers hear of a version once, when it first comes out (not when an appeal or
        # a moderator brings it back).
        from community.tasks import followers_notify_new_version

        followers_notify_new_version.delay_on_commit(version.pk)
    return version


def model_refresh_derived(*, model: Model) -> None:
    """Recompute the model's NSFW level and cover from its published versions."""
    published = model.versions.filter(status=Status.PUBLISHED)
    level = 0
    for version_level in published.values_list("nsfw_level", flat=True):
        level |= version_level
    cover = (
        GalleryImage.objects.filter(version__in=published, nsfw_level=NsfwLevel.PG)
        .order_by("-version__published_at", "position", "id")
        .first()
        # Never a picture a moderator blocked: the card would show its BlurHash.
        or GalleryImage.objects.filter(version__in=published)
        .exclude(nsfw_level=NsfwLevel.BLOCKED)
        .order_by("-version__published_at", "position", "id")
        .first()
    )
    model.nsfw_level = level or model.nsfw_level
    model.cover_image = cover
    model.save(update_fields=["nsfw_level", "cover_image"])


def stuck_jobs() -> tuple[list[int], list[int], list[int]]:
    """Hashes, scans and thumbnails that no worker is doing: (files to hash, files to scan,
    images to process)."""
    return (
        HASH_JOB.stuck(),
        SCAN_JOB.stuck(ModelFile.objects.filter(hash_status=JobStatus.DONE)),
        THUMBNAIL_JOB.stuck(),
    )


def download_record(*, model_file: ModelFile) -> None:
    """Count one download on the file, its version and its model."""
    ModelFile.objects.filter(pk=model_file.pk).update(download_count=F("download_count") + 1)
    ModelVersion.objects.filter(pk=model_file.version_id).update(
        download_count=F("download_count") + 1
    )
    Model.objects.filter(versions__pk=model_file.version_id).update(
        download_count=F("download_count") + 1
    )
    _download_day_count(model_file.version_id)


def _download_day_count(version_id: int) -> None:
    """One more download today (in TIME_ZONE, as the charts count days): an UPDATE, or the
    day's first row (two first downloads at once: the loser of the unique constraint
    updates instead)."""
    today = timezone.localdate()
    day = DownloadDay.objects.filter(version_id=version_id, day=today)
    if day.update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            DownloadDay.objects.create(version_id=version_id, day=today, count=1)
    except IntegrityError:
        day.update(count=F("count") + 1)
