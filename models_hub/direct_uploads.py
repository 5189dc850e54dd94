"""Direct uploads to S3: the browser sends the parts of a multipart upload straight to the
bucket through presigned URLs, so multi-GB files never pass through the web processes.
The server then completes the multipart upload, checks the size, recognises the format and
computes the six hashes in one read of the object, and moves it under a generated key.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import asdict

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.utils import timezone

from models_hub.formats.hashing import hash_stream
from models_hub.models import ResumableUpload, new_model_file_key
from models_hub.validation import inspect_model_upload

PART_URL_SECONDS = 3600
MAX_PARTS = 10_000  # S3's own limit


def direct_uploads_available() -> bool:
    return hasattr(default_storage, "bucket_name") and hasattr(default_storage, "connection")


def _client():
    return default_storage.connection.meta.client


def _bucket() -> str:
    return default_storage.bucket_name


def start(upload: ResumableUpload, part_size: int) -> None:
    if not direct_uploads_available():
        raise ValidationError({"direct": "Direct uploads need S3 storage."})
    if -(-upload.size // part_size) > MAX_PARTS:
        raise ValidationError({"size": "This file needs more than 10,000 parts."})
    key = f"uploads/{upload.pk}"
    created = _client().create_multipart_upload(Bucket=_bucket(), Key=key)
    upload.s3_key, upload.s3_upload_id = key, created["UploadId"]
    upload.save(update_fields=["s3_key", "s3_upload_id"])


def part_urls(upload: ResumableUpload, numbers: list[int], part_size: int) -> list[dict]:
    last = -(-upload.size // part_size)
    if not numbers or any(n < 1 or n > last for n in numbers):
        raise ValidationError(f"Part numbers run from 1 to {last}.")
    client = _client()
    return [
        {
            "partNumber": number,
            "url": client.generate_presigned_url(
                "upload_part",
                Params={
                    "Bucket": _bucket(),
                    "Key": upload.s3_key,
                    "UploadId": upload.s3_upload_id,
                    "PartNumber": number,
                },
                ExpiresIn=PART_URL_SECONDS,
            ),  # fmt: skip
        }
        for number in numbers[:100]
    ]


def _parts(upload: ResumableUpload) -> list[dict]:
    client, parts, marker = _client(), [], 0
    while True:
        page = client.list_parts(Bucket=_bucket(), Key=upload.s3_key,
                                 UploadId=upload.s3_upload_id, PartNumberMarker=marker)  # fmt: skip
        parts.extend(page.get("Parts", []))
        if not page.get("IsTruncated"):
            return parts
        marker = page["NextPartNumberMarker"]


def received(upload: ResumableUpload, part_size: int) -> int:
    """Bytes stored in the parts numbered 1, 2, 3... without a gap: where to resume."""
    total, expected = 0, 1
    for part in sorted(_parts(upload), key=lambda p: p["PartNumber"]):
        if part["PartNumber"] != expected:
            break
        total += part["Size"]
        expected += 1
    return min(total, upload.size)


class _RangedObject(io.RawIOBase):
    """Seekable reads of an S3 object by ranged GETs, for the header checks."""

    def __init__(self, key: str, size: int, name: str) -> None:
        self.key, self.size, self.name, self._pos = key, size, name, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = {0: offset, 1: self._pos + offset, 2: self.size + offset}[whence]
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        end = self.size if n is None or n < 0 else min(self.size, self._pos + n)
        if self._pos >= end:
            return b""
        span = f"bytes={self._pos}-{end - 1}"
        body = _client().get_object(Bucket=_bucket(), Key=self.key, Range=span)["Body"].read()
        self._pos += len(body)
        return body


class PartsMissing(ValidationError):
    """Not every part has arrived: the upload stays open for the client to send them."""


class UploadLost(ValidationError):
    """The storage failed after the parts were joined: the parts are gone, upload again."""


def complete(upload: ResumableUpload, part_size: int) -> dict:
    """Finish the multipart upload and check the object; returns the fields to store."""
    client, bucket = _client(), _bucket()
    parts = sorted(_parts(upload), key=lambda p: p["PartNumber"])
    numbers = [p["PartNumber"] for p in parts]
    if numbers != list(range(1, len(parts) + 1)) or sum(p["Size"] for p in parts) != upload.size:
        raise PartsMissing(
            f"The parts hold {sum(p['Size'] for p in parts):,} of {upload.size:,} bytes; "
            "send the missing parts first."
        )
    client.complete_multipart_upload(
        Bucket=bucket, Key=upload.s3_key, UploadId=upload.s3_upload_id,
        MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]}
                                   for p in parts]},
    )  # fmt: skip
    try:
        size = client.head_object(Bucket=bucket, Key=upload.s3_key)["ContentLength"]
        if size != upload.size:
            raise ValidationError("The stored object does not have the declared size.")
        head = _RangedObject(upload.s3_key, size, upload.filename)
        detected = inspect_model_upload(head)
        body = client.get_object(Bucket=bucket, Key=upload.s3_key)["Body"]
        hashes = hash_stream(body, safetensors=detected.format == "SafeTensor")
        if upload.expected_sha256 and hashes.sha256 != upload.expected_sha256:
            raise ValidationError("The file's SHA256 is not the one you declared.")
        final_key = new_model_file_key(detected.format)
        client.copy({"Bucket": bucket, "Key": upload.s3_key}, bucket, final_key)
    except ValidationError:
        raise
    except Exception as exc:
        # The multipart upload is complete, so its parts no longer exist: nothing is left
        # to resume, and reopening would leave an upload that fails for ever.
        raise UploadLost(
            f"The storage failed while checking the file ({exc.__class__.__name__}); "
            "please upload it again."
        ) from exc
    finally:
        client.delete_object(Bucket=bucket, Key=upload.s3_key)
    return {
        "s3_key": final_key,
        "format": detected.format,
        "hashes": hashes.as_fields(),
        "detected": {"precision": detected.precision, "tensor_count": detected.tensor_count,
                     "metadata": detected.metadata,
                     "parents": [asdict(p) for p in detected.parents]},
        "updated_at": timezone.now(),
    }  # fmt: skip


def abort(upload: ResumableUpload) -> None:
    # Already completed or gone: nothing left to free.
    with contextlib.suppress(Exception):
        _client().abort_multipart_upload(Bucket=_bucket(), Key=upload.s3_key,
                                         UploadId=upload.s3_upload_id)  # fmt: skip
