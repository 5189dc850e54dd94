"""Resumable uploads of model files: create, write chunks in order, complete.

A client that loses its connection asks for the offset and sends the rest. Completing
reads the assembled file once, computing all six hashes and recognising the format in the
same pass; the file then joins a version through `services.model_upload` like any upload,
moved (not copied) into local storage.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import re
import shutil
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from models_hub import direct_uploads
from models_hub.formats.hashing import StreamHasher, hash_stream
from models_hub.models import ResumableUpload
from models_hub.validation import (
    ALLOWED_EXTENSIONS,
    check_not_suspended,
    extension_of,
    inspect_model_upload,
    normalise_display_name,
)

COPY_BUFFER = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


class OffsetMismatch(Exception):
    """The chunk does not start where the upload stands; `expected` says where it does."""

    def __init__(self, expected: int) -> None:
        super().__init__(f"The upload stands at byte {expected}.")
        self.expected = expected


class ChunkBusy(Exception):
    """Another request is writing to this upload right now."""


class UploadBusy(Exception):
    """Another request holds this upload (checking, attaching) or it is gone."""


class ChunkIncomplete(Exception):
    """The connection ended before the whole chunk arrived; nothing of it counts."""


class NoRoomForChunk(Exception):
    """The server could not write the chunk (its disk is full); nothing of it was kept."""


MAX_OPEN_UPLOADS = 20
# Space kept free on the upload disk, so one upload cannot fill it for everyone.
FREE_SPACE_MARGIN = 1024**3
STALE_OPEN_AFTER = timedelta(days=2)
STALE_COMPLETE_AFTER = timedelta(days=7)
STALE_BUSY_AFTER = timedelta(hours=1)


def upload_create(
    *, owner, filename: str, size: int, expected_sha256: str = "", direct: bool = False
) -> ResumableUpload:
    check_not_suspended(owner)
    errors: dict[str, str] = {}
    name = normalise_display_name(filename, fallback="")
    if not name:
        errors["filename"] = "Give the file's name."
    elif extension_of(name) not in ALLOWED_EXTENSIONS:
        errors["filename"] = "Files of this type are not accepted: " + ", ".join(
            f".{e}" for e in sorted(ALLOWED_EXTENSIONS)
        )
    if type(size) is not int or size <= 0:
        errors["size"] = "Give the file's size in bytes (more than 0)."
    elif size > settings.HUB_MAX_UPLOAD_BYTES:
        errors["size"] = f"Files may be at most {settings.HUB_MAX_UPLOAD_BYTES:,} bytes."
    if expected_sha256 and not _SHA256.match(expected_sha256):
        errors["sha256"] = "The SHA256 must be 64 hexadecimal characters."
    if errors:
        raise ValidationError(errors)
    open_count = ResumableUpload.objects.filter(
        owner=owner, state=ResumableUpload.State.OPEN
    ).count()
    if open_count >= MAX_OPEN_UPLOADS:
        raise ValidationError(
            f"You have {open_count} unfinished uploads: finish or cancel some first."
        )
    if direct:
        if not direct_uploads.direct_uploads_available():
            raise ValidationError({"direct": "Direct uploads need S3 storage."})
        upload = ResumableUpload.objects.create(
            owner=owner, filename=name, size=size, expected_sha256=expected_sha256.lower()
        )
        direct_uploads.start(upload, settings.HUB_UPLOAD_CHUNK_BYTES)
        return upload
    upload_dir = Path(settings.HUB_UPLOAD_DIR)
    upload_dir.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(upload_dir).free - FREE_SPACE_MARGIN < size:
        raise ValidationError({"size": "The server has no room for a file this size right now."})
    upload = ResumableUpload.objects.create(
        owner=owner, filename=name, size=size, expected_sha256=expected_sha256.lower()
    )
    upload.temp_path.touch()
    return upload


def upload_refresh_offset(*, upload: ResumableUpload) -> ResumableUpload:
    """For a direct upload, ask the bucket how far the parts have come."""
    if upload.is_direct and upload.state == ResumableUpload.State.OPEN:
        upload.received = direct_uploads.received(upload, settings.HUB_UPLOAD_CHUNK_BYTES)
        ResumableUpload.objects.filter(pk=upload.pk).update(
            received=upload.received, updated_at=timezone.now()
        )
    return upload


def upload_write_chunk(
    *, upload: ResumableUpload, offset: int, length: int, body: BinaryIO
) -> ResumableUpload:
    """Append one chunk that starts at `offset`, streamed from `body` in small pieces."""
    if upload.state != ResumableUpload.State.OPEN:
        raise ValidationError("This upload is no longer receiving data.")
    if upload.is_direct:
        raise ValidationError("Send the parts of a direct upload to their presigned URLs.")
    if offset != upload.received:
        raise OffsetMismatch(upload.received)
    if length <= 0 or length > settings.HUB_UPLOAD_CHUNK_BYTES:
        raise ValidationError(
            f"A chunk must be 1 to {settings.HUB_UPLOAD_CHUNK_BYTES:,} bytes (Content-Length)."
        )
    if offset + length > upload.size:
        raise ValidationError(f"The chunk would go past the declared size ({upload.size:,}).")
    try:
        # Unbuffered: a write that fails (a full disk) leaves nothing in a buffer that closing
        # the file would try, and fail, to write again.
        part = open(upload.temp_path, "r+b", buffering=0)  # noqa: SIM115 - closed by the with
    except FileNotFoundError:
        raise UploadBusy("This upload was cancelled or removed.") from None
    with part:
        try:
            fcntl.flock(part, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ChunkBusy from None
        # Re-read under the lock: a request that held it may have just moved the offset,
        # or a cancel or complete may have taken the upload.
        upload.refresh_from_db(fields=["received", "state"])
        if upload.state != ResumableUpload.State.OPEN:
            raise UploadBusy("This upload is no longer receiving data.")
        if offset != upload.received:
            raise OffsetMismatch(upload.received)
        part.seek(offset)
        hasher = _running_hasher(upload.pk, offset)
        try:
            _copy_chunk(body, part, length, hasher)
        except BaseException:
            # Nothing of this chunk counts: the file ends at the offset again, and the running
            # hash, which has seen some of its bytes, is dropped (completing reads the file).
            _RUNNING_HASHES.pop(str(upload.pk), None)
            with contextlib.suppress(OSError):
                part.truncate(offset)
            raise
        # updated_at too (update() skips auto_now): the sweeper judges an upload abandoned
        # by the time of its last chunk, so one still arriving after two days is kept.
        ResumableUpload.objects.filter(pk=upload.pk, received=offset).update(
            received=offset + length, updated_at=timezone.now()
        )
        if hasher is not None:
            _RUNNING_HASHES[str(upload.pk)] = (hasher, offset + length)
    upload.refresh_from_db()
    return upload


def _copy_chunk(body: BinaryIO, part, length: int, hasher: StreamHasher | None) -> None:
    written = 0
    while written < length:
        try:
            piece = body.read(min(COPY_BUFFER, length - written))
        except OSError:  # the client's connection broke (UnreadablePostError)
            raise ChunkIncomplete from None
        if not piece:
            raise ChunkIncomplete
        try:
            remaining = memoryview(piece)
            while remaining:  # an unbuffered write may take only part of the piece
                remaining = remaining[part.write(remaining) :]
        except OSError as exc:  # a full disk or quota
            raise NoRoomForChunk(str(exc)) from exc
        if hasher is not None:
            hasher.update(piece)
        written += len(piece)
    try:
        # Drop whatever an earlier, broken request left past this point.
        part.truncate()
        os.fsync(part.fileno())
    except OSError as exc:
        raise NoRoomForChunk(str(exc)) from exc


# Hashes computed while the chunks arrive, so completing needs no second read of the file.
# Process-local: when chunks of one upload reach different web processes, completing falls
# back to reading the file once. Bounded, oldest dropped first.
_RUNNING_HASHES: dict[str, tuple[StreamHasher, int]] = {}
_RUNNING_HASHES_CAP = 64


def _running_hasher(upload_id, offset: int) -> StreamHasher | None:
    key = str(upload_id)
    if offset == 0:
        entry = _RUNNING_HASHES.pop(key, None)
        if entry:
            entry[0].close()
        while len(_RUNNING_HASHES) >= _RUNNING_HASHES_CAP:
            _RUNNING_HASHES.pop(next(iter(_RUNNING_HASHES)))[0].close()
        # AutoV3 is kept for every file; it is dropped at completion unless safetensors.
        return StreamHasher(safetensors=True)
    entry = _RUNNING_HASHES.get(key)
    if entry is None or entry[1] != offset:
        return None
    return entry[0]


def _hashes_from_running(upload: ResumableUpload, is_safetensors: bool):
    entry = _RUNNING_HASHES.pop(str(upload.pk), None)
    if entry is None or entry[1] != upload.size:
        return None
    hashes = entry[0].result()
    if not is_safetensors:
        hashes = dataclasses.replace(hashes, autov3="")
    return hashes


def upload_complete(*, upload: ResumableUpload) -> ResumableUpload:
    """Check the assembled file: size, every hash in one read, format from the content.

    The row is claimed first (OPEN -> CHECKING), so a second `complete`, a late chunk or a
    cancel arriving meanwhile finds it taken instead of racing the check.
    """
    upload.refresh_from_db()
    if upload.state == ResumableUpload.State.COMPLETE:
        return upload
    if upload.is_direct:
        return _complete_direct(upload)
    if upload.received != upload.size:
        raise ValidationError(
            f"The upload has {upload.received:,} of {upload.size:,} bytes; send the rest first."
        )
    claimed = ResumableUpload.objects.filter(
        pk=upload.pk, state=ResumableUpload.State.OPEN, received=upload.size
    ).update(state=ResumableUpload.State.CHECKING, updated_at=timezone.now())
    if not claimed:
        raise UploadBusy("This upload is being checked or was cancelled.")
    upload.state = ResumableUpload.State.CHECKING
    part_file = None
    try:
        if upload.temp_path.stat().st_size != upload.size:
            raise ValidationError("The stored file does not have the declared size.")
        part_file = _PartFile(upload)
        detected = inspect_model_upload(part_file)
        is_safetensors = detected.format == "SafeTensor"
        hashes = _hashes_from_running(upload, is_safetensors)
        if hashes is None:
            with open(upload.temp_path, "rb") as stream:
                hashes = hash_stream(stream, safetensors=is_safetensors)
        if hashes.size != upload.size:
            raise ValidationError("The stored file does not have the declared size.")
        if upload.expected_sha256 and hashes.sha256 != upload.expected_sha256:
            raise ValidationError(
                "The file's SHA256 is not the one you declared: it was damaged on the way. "
                "Start the upload again."
            )
    except ValidationError as exc:
        upload_discard(upload=upload, error=" ".join(exc.messages))
        raise
    except FileNotFoundError:
        upload_discard(upload=upload, error="The uploaded bytes are gone; upload the file again.")
        raise ValidationError("The uploaded bytes are gone; upload the file again.") from None
    except BaseException:
        # Something outside the file's control (a disk error): let the client try again.
        ResumableUpload.objects.filter(pk=upload.pk, state=ResumableUpload.State.CHECKING).update(
            state=ResumableUpload.State.OPEN
        )
        raise
    finally:
        if part_file is not None:
            part_file.close()
    upload.format = detected.format
    upload.hashes = hashes.as_fields()
    upload.state = ResumableUpload.State.COMPLETE
    ResumableUpload.objects.filter(pk=upload.pk, state=ResumableUpload.State.CHECKING).update(
        format=upload.format, hashes=upload.hashes, state=upload.state, updated_at=timezone.now()
    )
    return upload


def _complete_direct(upload: ResumableUpload) -> ResumableUpload:
    claimed = ResumableUpload.objects.filter(pk=upload.pk, state=ResumableUpload.State.OPEN).update(
        state=ResumableUpload.State.CHECKING, updated_at=timezone.now()
    )
    if not claimed:
        raise UploadBusy("This upload is being checked or was cancelled.")
    try:
        fields = direct_uploads.complete(upload, settings.HUB_UPLOAD_CHUNK_BYTES)
    except direct_uploads.PartsMissing:
        ResumableUpload.objects.filter(pk=upload.pk).update(state=ResumableUpload.State.OPEN)
        raise
    except ValidationError as exc:  # a bad file, or parts lost after joining them
        upload_discard(upload=upload, error=" ".join(exc.messages))
        raise
    except BaseException:
        # Before the parts were joined (listing them failed): the client may try again.
        ResumableUpload.objects.filter(pk=upload.pk).update(state=ResumableUpload.State.OPEN)
        raise
    ResumableUpload.objects.filter(pk=upload.pk, state=ResumableUpload.State.CHECKING).update(
        state=ResumableUpload.State.COMPLETE, received=upload.size, **fields
    )
    upload.refresh_from_db()
    return upload


def upload_cancel(*, upload: ResumableUpload) -> None:
    """Drop an upload that is receiving or complete; one being checked or attached stays."""
    cancelled = ResumableUpload.objects.filter(
        pk=upload.pk, state__in=[ResumableUpload.State.OPEN, ResumableUpload.State.COMPLETE]
    ).update(state=ResumableUpload.State.FAILED, error="Cancelled.")
    if not cancelled:
        raise UploadBusy("This upload is being checked or attached, or is already gone.")
    _free(upload)


def _free(upload: ResumableUpload) -> None:
    """Give back what an upload holds: its temp file, its open multipart upload or, for a
    completed direct upload never attached, its object."""
    upload.temp_path.unlink(missing_ok=True)
    if upload.is_direct:
        direct_uploads.abort(upload)
        if upload.s3_key and not upload.s3_key.startswith("uploads/"):
            default_storage.delete(upload.s3_key)


def upload_discard(*, upload: ResumableUpload, error: str = "") -> None:
    _free(upload)
    upload.state = ResumableUpload.State.FAILED
    upload.error = error[:2000]
    upload.save(update_fields=["state", "error", "updated_at"])


class _PartFile(File):
    """A completed upload as a Django File. `temporary_file_path` lets local storage move it
    into place instead of copying it; `known_hashes` spares the hash worker a second read."""

    def __init__(self, upload: ResumableUpload) -> None:
        # Closed by uploads_mark_used or when storage has moved it.
        super().__init__(open(upload.temp_path, "rb"), name=upload.filename)  # noqa: SIM115
        self.upload = upload
        self.size = upload.size
        self.known_hashes = upload.hashes or None

    def temporary_file_path(self) -> str:
        return str(self.upload.temp_path)


class _StoredObject:
    """A completed direct upload: its bytes already sit in the bucket under their final key."""

    def __init__(self, upload: ResumableUpload) -> None:
        self.upload = upload
        self.name = upload.filename
        self.size = upload.size
        self.known_hashes = upload.hashes or None
        self.already_stored_key = upload.s3_key

    def detected(self):
        from models_hub.formats.detect import Detected
        from models_hub.formats.safetensors import ParentRef

        info = self.upload.detected or {}
        return Detected(
            format=self.upload.format,
            precision=info.get("precision", ""),
            tensor_count=info.get("tensor_count"),
            metadata=info.get("metadata", {}),
            parents=[ParentRef(**p) for p in info.get("parents", [])],
        )

    def close(self) -> None:
        pass


def uploads_for_version(*, owner, upload_ids: list[str]) -> list[_PartFile]:
    """The owner's completed uploads as files for `services.model_upload`."""
    upload_ids = list(dict.fromkeys(upload_ids))  # the same upload once, however often named
    uploads = {
        str(u.pk): u
        for u in ResumableUpload.objects.filter(
            owner=owner, pk__in=upload_ids, state=ResumableUpload.State.COMPLETE
        )
    }
    missing = [i for i in upload_ids if i not in uploads]
    if missing:
        raise ValidationError(
            {"upload_ids": "Some uploaded files are not finished or not yours; upload them again."}
        )
    try:
        return [
            _StoredObject(uploads[i]) if uploads[i].is_direct else _PartFile(uploads[i])
            for i in upload_ids
        ]
    except FileNotFoundError:
        raise ValidationError(
            {"upload_ids": "An uploaded file is no longer on the server; upload it again."}
        ) from None


def uploads_claim(*, files: list) -> None:
    """Take completed uploads for one version (COMPLETE -> ATTACHING), all or none."""
    parts = [f for f in files if hasattr(f, "upload")]
    claimed: list[_PartFile] = []
    for part in parts:
        taken = ResumableUpload.objects.filter(
            pk=part.upload.pk, state=ResumableUpload.State.COMPLETE
        ).update(state=ResumableUpload.State.ATTACHING, updated_at=timezone.now())
        if not taken:
            uploads_release(files=claimed)
            raise ValidationError(
                {"model_files": "An uploaded file is already being attached elsewhere."}
            )
        claimed.append(part)


def uploads_release(*, files: list) -> None:
    """Give claimed uploads back after a failed attach, moving their bytes back if needed."""
    for part in (f for f in files if hasattr(f, "upload")):
        part.close()
        ResumableUpload.objects.filter(
            pk=part.upload.pk, state=ResumableUpload.State.ATTACHING
        ).update(state=ResumableUpload.State.COMPLETE)


@transaction.atomic
def uploads_mark_used(*, files: list) -> None:
    for part in (f for f in files if hasattr(f, "upload")):
        part.close()
        part.upload.temp_path.unlink(missing_ok=True)  # still there when storage copied it
        ResumableUpload.objects.filter(
            pk=part.upload.pk, state=ResumableUpload.State.ATTACHING
        ).update(state=ResumableUpload.State.USED)


def uploads_sweep_stale() -> int:
    """Remove the bytes of uploads abandoned half-way (2 days), completed and never
    attached to a version (7 days), or left checking or attaching by a web process that
    died mid-request (an hour: no request lasts that long). Returns how many were removed."""
    now = timezone.now()
    states = ResumableUpload.State
    stale = (
        ResumableUpload.objects.filter(state=states.OPEN, updated_at__lt=now - STALE_OPEN_AFTER)
        | ResumableUpload.objects.filter(
            state=states.COMPLETE, updated_at__lt=now - STALE_COMPLETE_AFTER
        )
        | ResumableUpload.objects.filter(
            state__in=[states.CHECKING, states.ATTACHING], updated_at__lt=now - STALE_BUSY_AFTER
        )
    )
    removed = 0
    for upload in stale:
        upload_discard(upload=upload, error="Removed: not finished or not used in time.")
        removed += 1
    return removed
