"""Civitai's public API v1, the shapes its clients index (../shared/CIVITAI_API.md): so far
one version, and a version found by a file's hash. Visibility is the site's: what the caller
may not see is a 404, with Civitai's error text.

    GET /api/v1/model-versions/{id}
    GET /api/v1/model-versions/by-hash/{hash}   (AutoV1, AutoV2, AutoV3, SHA256, CRC32, BLAKE3)
"""

from __future__ import annotations

import re

from django.db.models import Prefetch
from django.urls import reverse
from rest_framework.decorators import api_view, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from community.api_auth import KeyScope
from models_hub.choices import NsfwLevel
from models_hub.markdown import render_markdown
from models_hub.models import GalleryImage, ModelFile, ModelVersion
from models_hub.querysets import browsing_level_of
from models_hub.selectors import versions_by_file_hash

_HEX = re.compile(r"^[0-9a-fA-F]{8,64}$")
EXPLICIT = NsfwLevel.R | NsfwLevel.X | NsfwLevel.XXX
# Anyone may read; a key must have been given the "read" scope.
READ_SCOPE = KeyScope.of("read")


def _absolute(request: Request, path: str) -> str:
    return request.build_absolute_uri(path)


def file_json(request: Request, f: ModelFile) -> dict:
    download = reverse("models_hub:download", args=[f.version_id]) + f"?fileId={f.pk}"
    return {
        "id": f.pk,
        "name": f.name,
        "type": f.file_type,
        "sizeKB": f.size_bytes / 1024,  # exactly: clients compare it with the bytes they got
        "metadata": {"format": f.format, "size": "full", "fp": f.precision or None},
        "pickleScanResult": f.scan_result,
        "pickleScanMessage": f.scan_message,
        "virusScanResult": f.scan_result,
        "virusScanMessage": None,
        "scannedAt": f.scanned_at.isoformat() if f.scanned_at else None,
        "hashes": f.hashes,
        "downloadUrl": _absolute(request, download),
        "primary": f.is_primary,
    }


def image_json(request: Request, image: GalleryImage, owner: str) -> dict:
    params = image.generation_params or {}
    return {
        "id": image.pk,
        "url": _absolute(request, image.display_url),
        "hash": None,
        "width": image.width,
        "height": image.height,
        "nsfw": bool(image.nsfw_level & EXPLICIT),
        "nsfwLevel": image.nsfw_level,
        "createdAt": image.created_at.isoformat(),
        "postId": None,
        "username": owner,
        "stats": {"likeCount": 0, "heartCount": 0, "commentCount": 0},
        "meta": {key: value for key, value in params.items() if key != "raw"} or None,
    }


def version_json(request: Request, version: ModelVersion) -> dict:
    model = version.model
    return {
        "id": version.pk,
        "modelId": model.pk,
        "name": version.name,
        "description": str(render_markdown(version.description)),
        "baseModel": version.base_model.name,
        "baseModelType": "Standard",
        "createdAt": version.created_at.isoformat(),
        "updatedAt": version.updated_at.isoformat(),
        "publishedAt": version.published_at.isoformat() if version.published_at else None,
        "trainedWords": list(version.trained_words),
        "status": version.get_status_display(),
        "nsfwLevel": version.nsfw_level,
        "stats": {
            "downloadCount": version.download_count,
            "ratingCount": 0,
            "rating": 0,
            "thumbsUpCount": 0,
            "thumbsDownCount": 0,
        },  # fmt: skip
        "model": {
            "name": model.name,
            "type": model.type,
            "nsfw": bool(model.nsfw_level & EXPLICIT),
            "poi": version.depicts_real_person,
        },  # fmt: skip
        "files": [file_json(request, f) for f in version.files.all()],
        # Prefetched within the caller's browsing level (see _versions_for).
        "images": [
            image_json(request, image, model.owner.username) for image in version.images.all()
        ],
        "downloadUrl": _absolute(request, reverse("models_hub:download", args=[version.pk])),
    }


def _versions_for(request: Request):
    """Versions the caller may see, with their files and the images their level allows."""
    images = GalleryImage.objects.within_levels(browsing_level_of(request.user))
    return (
        ModelVersion.objects.visible_to(request.user)
        .select_related("model__owner", "base_model")
        .prefetch_related(
            Prefetch("files", queryset=ModelFile.objects.order_by("-is_primary", "id")),
            Prefetch("images", queryset=images.order_by("position", "id")),
        )
    )


@api_view(["GET"])
@permission_classes([READ_SCOPE])
def version_detail(request: Request, version_id: int) -> Response:
    version = _versions_for(request).filter(pk=version_id).first()
    if version is None:
        return Response({"error": f"No version with id {version_id}"}, status=404)
    return Response(version_json(request, version))


@api_view(["GET"])
@permission_classes([READ_SCOPE])
def version_by_hash(request: Request, file_hash: str) -> Response:
    if not _HEX.match(file_hash):
        return Response({"error": "Give a file hash: 8 to 64 hexadecimal characters."}, status=400)
    found = versions_by_file_hash(file_hash, request.user).values("pk")
    version = _versions_for(request).filter(pk__in=found).order_by("-published_at", "-id").first()
    if version is None:
        return Response({"error": "Model not found"}, status=404)
    return Response(version_json(request, version))
