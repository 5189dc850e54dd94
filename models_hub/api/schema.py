"""The OpenAPI description of API v1 (drf-spectacular, /api/schema/ and /api/docs/): the
parameters each endpoint reads and the shapes shapes.py builds. These serializers only
describe; the views build their JSON in shapes.py. tests/api/test_schema.py and the
schemathesis run check that the two agree."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from models_hub.api.params import NSFW_NAMES
from models_hub.api.queries import COMMERCIAL_RANKS, IMAGE_ORDERS, MODEL_ORDERS, PERIODS, RELEVANCE
from models_hub.choices import FileFormat, FileType, ModelType, ScanResult


def _query(name: str, kind=OpenApiTypes.STR, description: str = "", **extra) -> OpenApiParameter:
    return OpenApiParameter(
        name, kind, OpenApiParameter.QUERY, description=description, required=False, **extra
    )


def _list(name: str, items: dict, description: str) -> OpenApiParameter:
    return _query(
        name,
        {"type": "array", "items": items},
        description + " Repeat the parameter or separate values with commas.",
        explode=True,
    )


NSFW = _query(
    "nsfw",
    description="How far to open NSFW content: false (PG, the default), true (everything your "
    "browsing level allows), one of " + ", ".join(n.title() for n in NSFW_NAMES) + ", or a "
    "level (PG, PG13, R, X, XXX). Never beyond your own browsing level.",
)
BROWSING_LEVEL = _query(
    "browsingLevel",
    {"type": "integer", "minimum": 0, "maximum": 31},
    "A bitmask of levels (PG=1, PG13=2, R=4, X=8, XXX=16), capped by your browsing level.",
)
CURSOR = _query("cursor", description="metadata.nextCursor of the previous page.")
PAGE = _query(
    "page",
    {"type": "integer", "minimum": 1, "maximum": 10_000},
    "Page number (page-based pagination).",
)
ID = {"type": "integer", "minimum": 1}
PERIOD = _query(
    "period", description="Published within: " + ", ".join(PERIODS) + ".", enum=list(PERIODS)
)


def limit(default: int, high: int, low: int = 1) -> OpenApiParameter:
    return _query(
        "limit",
        {"type": "integer", "minimum": low, "maximum": high},
        f"Items per page, {low}-{high} (default {default}); `pageSize` is accepted too.",
    )


def _bool(name: str, description: str) -> OpenApiParameter:
    return _query(name, OpenApiTypes.BOOL, description)


MODELS_PARAMETERS = [
    limit(100, 100),
    PAGE,
    CURSOR,
    _query(
        "query",
        description="Text to search in names, tags, creators and descriptions; "
        "results are then paged by cursor.",
    ),  # fmt: skip
    _query("tag", description="A tag name."),
    _query("username", description="The creator's username."),
    _list("types", {"type": "string", "enum": ModelType.values}, "Model types."),
    _list("baseModels", {"type": "string"}, "Base model names, e.g. SD 1.5, SDXL 1.0."),
    _query(
        "sort",
        enum=[*MODEL_ORDERS, RELEVANCE],
        description="The order (default Highest Rated; Relevance when searching).",
    ),  # fmt: skip
    PERIOD,
    NSFW,
    BROWSING_LEVEL,
    _list("ids", {"type": "integer", "minimum": 1}, "Model ids."),
    _bool("primaryFileOnly", "Only each version's primary file."),
    _bool("favorites", "Only your favourites (needs a key)."),
    _bool("hidden", "Only models you hid (needs a key)."),
    _bool("allowNoCredit", "Whether use without credit is allowed."),
    _bool("allowDerivatives", "Whether merges and fine-tunes may be shared."),
    _bool(
        "allowDifferentLicense",
        "Whether derivatives may change the permissions "
        "(`allowDifferentLicenses` is accepted too).",
    ),  # fmt: skip
    _list(
        "allowCommercialUse",
        {"type": "string", "enum": ["None", *COMMERCIAL_RANKS]},
        "The commercial use a model must allow at least (None: none at all).",
    ),
]

IMAGES_PARAMETERS = [
    limit(100, 200, low=0),
    CURSOR,
    PAGE,
    _query("modelId", ID, "Images of this model's versions."),
    _query("modelVersionId", ID, "Images of this version."),
    _query("postId", ID, "Images belong to versions here, so this finds none."),
    _query("username", description="Images of this creator's models."),
    _query("sort", enum=list(IMAGE_ORDERS), description="The order (default Newest)."),
    PERIOD,
    NSFW,
    BROWSING_LEVEL,
]

DIRECTORY_PARAMETERS = [limit(20, 200), PAGE, _query("query", description="Part of the name.")]


class FileMetadataSchema(serializers.Serializer):
    format = serializers.ChoiceField(FileFormat.choices)
    size = serializers.CharField()
    fp = serializers.CharField(allow_null=True)


class FileSchema(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="The name the file downloads as.")
    type = serializers.ChoiceField(FileType.choices)
    sizeKB = serializers.FloatField(help_text="Exactly the size in bytes / 1024.")
    metadata = FileMetadataSchema()
    pickleScanResult = serializers.ChoiceField(ScanResult.choices)
    pickleScanMessage = serializers.CharField(allow_blank=True)
    virusScanResult = serializers.ChoiceField(ScanResult.choices)
    virusScanMessage = serializers.CharField(allow_null=True)
    scannedAt = serializers.DateTimeField(allow_null=True)
    hashes = serializers.DictField(
        child=serializers.CharField(),
        help_text="Uppercase hex by name: AutoV1, AutoV2, AutoV3, SHA256, CRC32, BLAKE3.",
    )
    downloadUrl = serializers.URLField()
    primary = serializers.BooleanField()


class _Stats(serializers.Serializer):
    downloadCount = serializers.IntegerField()
    favoriteCount = serializers.IntegerField(required=False, help_text="Models only.")
    thumbsUpCount = serializers.IntegerField()
    thumbsDownCount = serializers.IntegerField()
    commentCount = serializers.IntegerField(required=False, help_text="Models only.")
    ratingCount = serializers.IntegerField()
    rating = serializers.FloatField()


class _ImageStats(serializers.Serializer):
    likeCount = serializers.IntegerField()
    heartCount = serializers.IntegerField()
    laughCount = serializers.IntegerField()
    cryCount = serializers.IntegerField()
    commentCount = serializers.IntegerField()


class ImageSchema(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    hash = serializers.CharField(
        allow_null=True, help_text="BlurHash; null until the image is processed."
    )
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    nsfw = serializers.BooleanField()
    nsfwLevel = serializers.IntegerField(help_text="A bitmask: PG=1, PG13=2, R=4, X=8, XXX=16.")
    createdAt = serializers.DateTimeField()
    postId = serializers.IntegerField(allow_null=True)
    username = serializers.CharField()
    stats = _ImageStats()
    meta = serializers.JSONField(allow_null=True, help_text="Generation parameters.")


class ListedImageSchema(ImageSchema):
    nsfwLevel = serializers.ChoiceField(["None", "Soft", "Mature", "X"])
    browsingLevel = serializers.IntegerField(help_text="The level as a bitmask.")
    modelVersionId = serializers.IntegerField()
    baseModel = serializers.CharField()


class _VersionFields(serializers.Serializer):
    id = serializers.IntegerField()
    modelId = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True, help_text="HTML.")
    baseModel = serializers.CharField()
    baseModelType = serializers.CharField()
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()
    publishedAt = serializers.DateTimeField(allow_null=True)
    trainedWords = serializers.ListField(child=serializers.CharField(allow_blank=True))
    status = serializers.CharField()
    nsfwLevel = serializers.IntegerField()
    availability = serializers.CharField()
    stats = _Stats()
    files = FileSchema(many=True)
    images = ImageSchema(many=True)
    downloadUrl = serializers.URLField()


class _VersionModel(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(ModelType.choices)
    nsfw = serializers.BooleanField()
    poi = serializers.BooleanField()


class VersionSchema(_VersionFields):
    model = _VersionModel()


class _Creator(serializers.Serializer):
    username = serializers.CharField()
    image = serializers.URLField(allow_null=True)


class _License(serializers.Serializer):
    name = serializers.CharField()
    url = serializers.URLField(allow_null=True)


class ModelSchema(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True, help_text="HTML.")
    type = serializers.ChoiceField(ModelType.choices)
    poi = serializers.BooleanField()
    minor = serializers.BooleanField()
    nsfw = serializers.BooleanField()
    nsfwLevel = serializers.IntegerField()
    allowNoCredit = serializers.BooleanField()
    allowCommercialUse = serializers.ListField(
        child=serializers.ChoiceField(["None", *COMMERCIAL_RANKS])
    )
    allowDerivatives = serializers.BooleanField()
    allowDifferentLicense = serializers.BooleanField()
    license = _License()
    stats = _Stats()
    creator = _Creator()
    tags = serializers.ListField(child=serializers.CharField())
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()
    publishedAt = serializers.DateTimeField(allow_null=True)
    modelVersions = _VersionFields(many=True)


class MetadataSchema(serializers.Serializer):
    totalItems = serializers.IntegerField(required=False)
    currentPage = serializers.IntegerField(required=False)
    pageSize = serializers.IntegerField(required=False)
    totalPages = serializers.IntegerField(required=False)
    nextPage = serializers.URLField(required=False)
    prevPage = serializers.URLField(required=False)
    nextCursor = serializers.CharField(required=False)


def page_of(name: str, item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    return type(
        name,
        (serializers.Serializer,),
        {"items": item(many=True), "metadata": MetadataSchema()},
    )


class CreatorSchema(serializers.Serializer):
    username = serializers.CharField()
    modelCount = serializers.IntegerField()
    link = serializers.URLField()
    image = serializers.URLField(allow_null=True)


class TagSchema(serializers.Serializer):
    name = serializers.CharField()
    modelCount = serializers.IntegerField()
    link = serializers.URLField()


class ErrorSchema(serializers.Serializer):
    error = serializers.CharField()


# Anyone may call the v1 API; a key (or the site's session) only widens what is visible.
OPTIONAL_AUTH = [{"ApiKey": []}, {"cookieAuth": []}, {}]
ERRORS = {
    400: OpenApiResponse(ErrorSchema, "A parameter is wrong; the message names it."),
    401: OpenApiResponse(ErrorSchema, "The API key is unknown, revoked or expired."),
    403: OpenApiResponse(ErrorSchema, "The key lacks the scope."),
    429: OpenApiResponse(ErrorSchema, "Over the rate limit; see Retry-After."),
}
NOT_FOUND = {404: OpenApiResponse(ErrorSchema, "Not there, or not visible to you.")}


def allow_empty_query_values(result, generator, request, public):
    """A drf-spectacular postprocessing hook: in v1, an empty query parameter (`sort=`) means
    the same as none, as sloppy clients need; say so in the schema (allowEmptyValue)."""
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    parameter["allowEmptyValue"] = True
    return result


class _ExternalParent(serializers.Serializer):
    name = serializers.CharField()
    hash = serializers.CharField(required=False, help_text="SHA256 or AutoV2.")
    url = serializers.URLField(required=False)


class NewVersionSchema(serializers.Serializer):
    """The upload form's version fields, as JSON or multipart."""

    version_name = serializers.CharField(max_length=100)
    base_model = serializers.CharField(help_text="A base model's name, slug or id (SDXL 1.0).")
    trained_words = serializers.ListField(child=serializers.CharField(), required=False)
    version_description = serializers.CharField(required=False, help_text="Markdown.")
    nsfw_level = serializers.ChoiceField(
        [1, 2, 4, 8, 16], help_text="The most explicit level its content shows (PG=1 ... XXX=16)."
    )
    parent_version_ids = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Versions on this hub it was merged from or fine-tuned on (ids or links).",
    )
    external_parents = _ExternalParent(many=True, required=False)
    upload_ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        help_text="Completed resumable uploads (POST /api/uploads) to attach as its files.",
    )
    model_files = serializers.ListField(
        child=serializers.FileField(), required=False, help_text="Small files, multipart only."
    )
    images = serializers.ListField(
        child=serializers.ImageField(), required=False, help_text="Sample images, multipart."
    )
    publish = serializers.BooleanField(
        required=False, help_text="Publish as soon as the checks pass (default: keep a draft)."
    )


class NewModelSchema(NewVersionSchema):
    """The upload form's model fields, then its version's."""

    name = serializers.CharField(max_length=200)
    type = serializers.ChoiceField(ModelType.choices)
    description = serializers.CharField(required=False, help_text="Markdown.")
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    license = serializers.CharField(help_text="A license's slug, name or id.")
    license_other_url = serializers.URLField(required=False)
    license_other_text = serializers.CharField(required=False)
    allow_commercial_use = serializers.ChoiceField(["None", "Image", "Rent", "Sell"])
    allow_no_credit = serializers.BooleanField(required=False)
    allow_derivatives = serializers.BooleanField(required=False)
    allow_different_license = serializers.BooleanField(required=False)


class CreatedSchema(serializers.Serializer):
    modelId = serializers.IntegerField()
    versionId = serializers.IntegerField()
    status = serializers.CharField()
    url = serializers.URLField(help_text="The version's page.")
    apiUrl = serializers.URLField(help_text="The version in API v1.")


class PublishedSchema(serializers.Serializer):
    versionId = serializers.IntegerField()
    status = serializers.CharField()
