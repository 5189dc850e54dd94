"""JSON endpoints of the resumable upload protocol (used by the upload page's script and by
API clients). Thin: parse, call one service in models_hub.uploads, answer. Signed in by
the session (with its CSRF token) or by an API key with the "upload" scope.

    POST   /api/uploads                 {"filename", "size", "sha256"?}   -> 201 upload
    GET    /api/uploads/<id>            -> the upload, with "offset" to resume from
    PUT    /api/uploads/<id>?offset=N   raw bytes of one chunk            -> the upload
    POST   /api/uploads/<id>/complete   -> the upload, with its format and hashes
    DELETE /api/uploads/<id>            -> 204
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods

from community.api_auth import session_or_key
from models_hub import direct_uploads
from models_hub.formats.hashing import labelled
from models_hub.models import ResumableUpload
from models_hub.params import parse_count
from models_hub.uploads import (
    ChunkBusy,
    ChunkIncomplete,
    NoRoomForChunk,
    OffsetMismatch,
    UploadBusy,
    upload_cancel,
    upload_complete,
    upload_create,
    upload_refresh_offset,
    upload_write_chunk,
)
from models_hub.validation import UploadsSuspended

CREATE_BODY_CAP = 16 * 1024

log = logging.getLogger(__name__)


def _errors(exc: ValidationError, status: int = 400) -> JsonResponse:
    if hasattr(exc, "error_dict"):
        return JsonResponse({"error": "Invalid upload.", "errors": exc.message_dict}, status=status)
    return JsonResponse({"error": " ".join(exc.messages)}, status=status)


def _describe(upload: ResumableUpload) -> dict:
    return {
        "id": str(upload.pk),
        "filename": upload.filename,
        "size": upload.size,
        "offset": upload.received,
        "state": upload.state,
        "format": upload.format or None,
        # Civitai's names; the values as stored (lowercase), as this API always gave them.
        "hashes": labelled(upload.hashes, upper=False) if upload.hashes else None,
        "error": upload.error or None,
        "chunkSize": settings.HUB_UPLOAD_CHUNK_BYTES,
        "direct": upload.is_direct,
    }


def _own_upload(request: HttpRequest, upload_id) -> ResumableUpload | None:
    return ResumableUpload.objects.filter(pk=upload_id, owner=request.user).first()


@session_or_key("upload")
@require_http_methods(["POST"])
def create(request: HttpRequest) -> HttpResponse:
    if (
        parse_count(request.headers.get("Content-Length")) is None
        or int(request.headers["Content-Length"]) > CREATE_BODY_CAP
    ):
        return JsonResponse({"error": "Send a small JSON object with Content-Length."}, status=400)
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, numbers past Python's limit
        return JsonResponse({"error": "Send a JSON object."}, status=400)
    if not isinstance(data, dict):
        return JsonResponse({"error": "Send a JSON object."}, status=400)
    try:
        upload = upload_create(
            owner=request.user,
            filename=str(data.get("filename") or "")[:1000],
            size=data.get("size") if type(data.get("size")) is int else -1,
            expected_sha256=str(data.get("sha256") or ""),
            direct=data.get("direct") in (True, "true"),
        )
    except ValidationError as exc:
        return _errors(exc)
    except UploadsSuspended as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    return JsonResponse(_describe(upload), status=201)


@session_or_key("upload")
@require_http_methods(["GET", "HEAD", "PUT", "DELETE"])
def detail(request: HttpRequest, upload_id) -> HttpResponse:
    upload = _own_upload(request, upload_id)
    if upload is None:
        return JsonResponse({"error": "No such upload."}, status=404)
    if request.method == "DELETE":
        try:
            upload_cancel(upload=upload)
        except UploadBusy as exc:
            return JsonResponse({"error": str(exc)}, status=409)
        return HttpResponse(status=204)
    if request.method == "PUT":
        return _put_chunk(request, upload)
    upload = upload_refresh_offset(upload=upload)
    response = JsonResponse(_describe(upload))
    response["Upload-Offset"] = str(upload.received)
    response["Cache-Control"] = "no-store"
    return response


@session_or_key("upload")
@require_http_methods(["GET"])
def parts(request: HttpRequest, upload_id) -> HttpResponse:
    """Presigned URLs for the parts of a direct upload: ?numbers=1,2,3 (at most 100)."""
    upload = _own_upload(request, upload_id)
    if upload is None or not upload.is_direct:
        return JsonResponse({"error": "No such direct upload."}, status=404)
    numbers = [parse_count(n) for n in request.GET.get("numbers", "").split(",")]
    if not numbers or None in numbers:
        return JsonResponse({"error": "Give part numbers: ?numbers=1,2,3"}, status=400)
    try:
        urls = direct_uploads.part_urls(upload, numbers, settings.HUB_UPLOAD_CHUNK_BYTES)
    except ValidationError as exc:
        return _errors(exc)
    return JsonResponse({"partSize": settings.HUB_UPLOAD_CHUNK_BYTES, "parts": urls})


def _put_chunk(request: HttpRequest, upload: ResumableUpload) -> HttpResponse:
    offset = parse_count(request.GET.get("offset") or request.headers.get("Upload-Offset"))
    length = parse_count(request.headers.get("Content-Length"))
    if offset is None or length is None:
        return JsonResponse(
            {"error": "Give the chunk's offset (?offset=N) and its Content-Length."}, status=400
        )
    try:
        upload = upload_write_chunk(upload=upload, offset=offset, length=length, body=request)
    except OffsetMismatch as exc:
        response = JsonResponse({"error": str(exc), "offset": exc.expected}, status=409)
        response["Upload-Offset"] = str(exc.expected)
        return response
    except ChunkBusy:
        return JsonResponse({"error": "Another chunk is being written; retry."}, status=409)
    except UploadBusy as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    except ChunkIncomplete:
        return JsonResponse(
            {"error": "The chunk did not arrive whole; send it again.", "offset": upload.received},
            status=400,
        )
    except NoRoomForChunk as exc:
        log.error("No room for a chunk of upload %s: %s", upload.pk, exc)
        response = JsonResponse(
            {"error": "The server has no room for this chunk right now; nothing of it was kept. "
                      "Send it again later.", "offset": upload.received},
            status=503,
        )  # fmt: skip
        response["Retry-After"] = "60"
        response["Upload-Offset"] = str(upload.received)
        return response
    except ValidationError as exc:
        return _errors(exc)
    response = JsonResponse(_describe(upload))
    response["Upload-Offset"] = str(upload.received)
    return response


@session_or_key("upload")
@require_http_methods(["POST"])
def complete(request: HttpRequest, upload_id) -> HttpResponse:
    upload = _own_upload(request, upload_id)
    if upload is None:
        return JsonResponse({"error": "No such upload."}, status=404)
    try:
        upload = upload_complete(upload=upload)
    except UploadBusy as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    except ValidationError as exc:
        return _errors(exc, status=400 if upload.state != "failed" else 422)
    return JsonResponse(_describe(upload))
