"""The JSON shapes of Civitai's API v1 (../shared/CIVITAI_API.md). Field names and enum
spellings matter: clients index them. Every builder reads only what the caller's queryset
selected or prefetched, so a list costs the same number of queries at any length."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.core.files.storage import FileSystemStorage
from django.urls import reverse
from django.utils.encoding import filepath_to_uri
from rest_framework.request import Request

from models_hub.choices import CommercialUse, NsfwLevel
from models_hub.markdown import render_markdown
from models_hub.models import GalleryImage, Model, ModelFile, ModelVersion, Tag

# Where gallery pictures are kept: their URLs come from it by name (image rows carry no
# FieldFile).
_IMAGE_STORAGE = GalleryImage._meta.get_field("image").storage
# What image_json reads of an image (queries.attach_images selects these columns), with
# `meta` (queries.ShownParams).
IMAGE_FIELDS = (
    "id", "version_id", "image", "blurhash", "width", "height", "nsfw_level", "created_at",
    "like_count", "heart_count", "laugh_count", "cry_count", "comment_count",
)  # fmt: skip
EXPLICIT = NsfwLevel.R | NsfwLevel.X | NsfwLevel.XXX
# What each of our commercial levels allows, in Civitai's words (its "RentCivit", renting on
# Civitai's own generator, is included in renting anywhere).
COMMERCIAL_USE_NAMES = {
    CommercialUse.NONE: ["None"],
    CommercialUse.IMAGE: ["Image"],
    CommercialUse.RENT: ["Image", "RentCivit", "Rent"],
    CommercialUse.SELL: ["Image", "RentCivit", "Rent", "Sell"],
}
# Civitai's older image levels, still what /api/v1/images reports as `nsfwLevel`.
IMAGE_LEVEL_NAMES = [
    (NsfwLevel.X | NsfwLevel.XXX, "X"),
    (NsfwLevel.R, "Mature"),
    (NsfwLevel.PG13, "Soft"),
]


def absolute(request: Request, path: str) -> str:
    return request.build_absolute_uri(path)


def _once_per_request(request: Request, name: str, build: Callable[[], Callable]) -> Callable:
    """`build()`, made the first time a request asks for `name` and kept on the request:
    a page of 100 models makes thousands of URLs that share their start."""
    made = getattr(request, name, None)
    if made is None:
        made = build()
        setattr(request, name, made)
    return made


def picture_url(request: Request, name: str) -> str:
    """The absolute URL of a stored picture. Local storage's URLs are its base URL and the
    quoted name, so that base is made absolute once per request rather than once per image
    (a page of 100 models shows about 4,500); other storages (S3 signs each URL) are asked
    each time."""

    def build() -> Callable[[str], str]:
        storage = _IMAGE_STORAGE
        if isinstance(storage, FileSystemStorage):
            base = absolute(request, storage.base_url)
            return lambda name: base + filepath_to_uri(name).lstrip("/")
        return lambda name: absolute(request, storage.url(name))

    return _once_per_request(request, "_picture_url", build)(name)


def download_url(request: Request, version_id: int) -> str:
    """The absolute URL that downloads a version's primary file. A page of 100 models gives
    about 950 of them: the URL's pattern is reversed and made absolute once per request,
    not each time (reverse and build_absolute_uri took 15 ms of that page)."""

    def build() -> Callable[[int], str]:
        marker = 2_000_000_001  # an id no row has: it marks where the id goes
        pattern = absolute(request, reverse("models_hub:download", args=[marker]))
        head, _, tail = pattern.rpartition(str(marker))
        return lambda version_id: f"{head}{version_id}{tail}"

    return _once_per_request(request, "_download_url", build)(version_id)


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def file_json(request: Request, f: ModelFile) -> dict:
    download = download_url(request, f.version_id)
    if not f.is_primary:
        # The primary file's URL is the version's own: civitdl finds the file it downloaded
        # (and its hashes) by that equality.
        download += f"?fileId={f.pk}"
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
        "scannedAt": _iso(f.scanned_at),
        "hashes": f.hashes,
        "downloadUrl": download,
        "primary": f.is_primary,
    }


def image_json(request: Request, image: dict, owner: str) -> dict:
    """An image of a version, from its row: IMAGE_FIELDS and `meta`, as
    queries.attach_images reads them."""
    return {
        "id": image["id"],
        "url": picture_url(request, image["image"]),
        "hash": image["blurhash"] or None,  # BlurHash; null until the image is processed
        "width": image["width"],
        "height": image["height"],
        "nsfw": bool(image["nsfw_level"] & EXPLICIT),
        "nsfwLevel": image["nsfw_level"],
        "createdAt": image["created_at"].isoformat(),
        "postId": None,
        "username": owner,
        "stats": {
            "likeCount": image["like_count"],
            "heartCount": image["heart_count"],
            "laughCount": image["laugh_count"],
            "cryCount": image["cry_count"],
            "commentCount": image["comment_count"],
        },
        "meta": image["meta"],
    }


def listed_image_json(request: Request, image: GalleryImage) -> dict:
    """An item of /api/v1/images: Civitai names the level there (None, Soft, Mature, X) and
    gives the bitmask as `browsingLevel`, and says which version the image shows."""
    row = {name: getattr(image, name) for name in IMAGE_FIELDS}
    row["image"] = image.image.name
    row["meta"] = image.meta  # queries.listed_images reads it as attach_images does
    shape = image_json(request, row, image.version.model.owner.username)
    shape["nsfwLevel"] = next(
        (name for mask, name in IMAGE_LEVEL_NAMES if image.nsfw_level & mask), "None"
    )
    shape["browsingLevel"] = image.nsfw_level
    shape["modelVersionId"] = image.version_id
    shape["baseModel"] = image.version.base_model.name
    return shape


def _stats(row: Model | ModelVersion) -> dict:
    """Counters kept by community.services. Civitai's old five-star `rating` is derived from
    the thumbs: the share recommending, out of 5."""
    up, down = row.thumbs_up_count, row.thumbs_down_count
    stats = {
        "downloadCount": row.download_count,
        "thumbsUpCount": up,
        "thumbsDownCount": down,
        "ratingCount": up + down,
        "rating": round(5 * up / (up + down), 2) if up + down else 0,
    }
    if isinstance(row, Model):
        stats.update(favoriteCount=row.like_count, commentCount=row.comment_count)
    return stats


def _version_fields(request: Request, version: ModelVersion, owner: str) -> dict:
    return {
        "id": version.pk,
        "modelId": version.model_id,
        "name": version.name,
        "description": str(render_markdown(version.description)),
        "baseModel": version.base_model.name,
        "baseModelType": "Standard",
        "createdAt": version.created_at.isoformat(),
        "updatedAt": version.updated_at.isoformat(),
        "publishedAt": _iso(version.published_at),
        "trainedWords": list(version.trained_words),
        "status": version.get_status_display(),
        "nsfwLevel": version.nsfw_level,
        "availability": "Public",
        "stats": _stats(version),
        "files": [file_json(request, f) for f in version.files.all()],
        # Rows set by queries.attach_images, within the levels the caller may see.
        "images": [image_json(request, image, owner) for image in version.api_images],
        "downloadUrl": download_url(request, version.pk),
    }


def version_json(request: Request, version: ModelVersion) -> dict:
    """GET /api/v1/model-versions/{id}: a version with its model's name, type and flags."""
    model = version.model
    shape = _version_fields(request, version, model.owner.username)
    shape["model"] = {
        "name": model.name,
        "type": model.type,
        "nsfw": bool(model.nsfw_level & EXPLICIT),
        "poi": version.depicts_real_person,
    }
    return shape


def model_json(request: Request, model: Model, versions: list[ModelVersion]) -> dict:
    owner = model.owner.username
    return {
        "id": model.pk,
        "name": model.name,
        "description": str(render_markdown(model.description)),
        "type": model.type,
        "poi": any(v.depicts_real_person for v in versions),
        "minor": False,  # minors may not be depicted at all here (guidelines)
        "nsfw": bool(model.nsfw_level & EXPLICIT),
        "nsfwLevel": model.nsfw_level,
        "allowNoCredit": model.allow_no_credit,
        "allowCommercialUse": COMMERCIAL_USE_NAMES[CommercialUse(model.allow_commercial_use)],
        "allowDerivatives": model.allow_derivatives,
        "allowDifferentLicense": model.allow_different_license,
        "license": {"name": model.license.name, "url": model.license.url or None},
        "stats": _stats(model),
        "creator": {"username": owner, "image": avatar_url(request, model.owner)},
        "tags": [tag.name for tag in model.tags.all()],
        "createdAt": model.created_at.isoformat(),
        "updatedAt": model.updated_at.isoformat(),
        "publishedAt": _iso(model.published_at),
        "modelVersions": [_version_fields(request, v, owner) for v in versions],
    }


def _models_link(param: str, value: str) -> str:
    return reverse("models_hub:api_models") + "?" + urlencode({param: value})


def creator_json(request: Request, user) -> dict:
    return {
        "username": user.username,
        "modelCount": user.model_count,
        "link": absolute(request, _models_link("username", user.username)),
        "image": avatar_url(request, user),
    }


def avatar_url(request: Request, user) -> str | None:
    return absolute(request, user.avatar.url) if user.avatar else None


def tag_json(request: Request, tag: Tag) -> dict:
    return {
        "name": tag.name,
        "modelCount": tag.model_count,
        "link": absolute(request, _models_link("tag", tag.name)),
    }
