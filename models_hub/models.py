"""The catalogue: what is shared and how it moves. Writes go through services.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Cast, Length
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from models_hub.choices import (
    CommercialUse,
    FileFormat,
    FileType,
    JobStatus,
    ModelType,
    NsfwLevel,
    Precision,
    ScanResult,
    Status,
    label_of,
)
from models_hub.formats.hashing import HASH_LABELS, labelled
from models_hub.querysets import (
    GalleryImageQuerySet,
    ModelFileQuerySet,
    ModelQuerySet,
    ModelVersionQuerySet,
)

# Extensions used for storage keys; chosen from the detected content, never from the user.
FORMAT_EXTENSIONS = {
    FileFormat.SAFETENSOR: "safetensors",
    FileFormat.PICKLETENSOR: "ckpt",
    FileFormat.GGUF: "gguf",
    FileFormat.ONNX: "onnx",
    FileFormat.DIFFUSERS: "zip",
    FileFormat.OTHER: "bin",
}


def new_model_file_key(file_format: str) -> str:
    """A fresh storage key; its extension follows the detected format, never the upload."""
    key = uuid.uuid4().hex
    return f"models/{key[:2]}/{key}.{FORMAT_EXTENSIONS.get(file_format, 'bin')}"


def new_gallery_image_key(extension: str) -> str:
    """`extension` comes from the decoded image format (png, jpg, webp)."""
    key = uuid.uuid4().hex
    return f"images/{key[:2]}/{key}.{extension}"


def model_file_key(instance: ModelFile, filename: str) -> str:
    return new_model_file_key(instance.format)


def gallery_image_key(instance: GalleryImage, filename: str) -> str:
    return new_gallery_image_key(filename.rsplit(".", 1)[-1])


def gallery_thumbnail_key(instance: GalleryImage, filename: str) -> str:
    key = uuid.uuid4().hex
    return f"thumbs/{key[:2]}/{key}.webp"


class License(models.Model):
    """A license a model can be shared under, with the permissions it grants."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    url = models.URLField(blank=True)
    summary = models.TextField(blank=True)
    # The most a licensee may do commercially under this license.
    commercial_use = models.CharField(
        max_length=8, choices=CommercialUse.choices, default=CommercialUse.NONE
    )
    credit_required = models.BooleanField(default=False)
    derivatives_allowed = models.BooleanField(default=True)
    relicensing_allowed = models.BooleanField(default=False)
    # OpenRAIL-style use restrictions that every derivative must carry forward.
    has_use_restrictions = models.BooleanField(default=False)
    # "Other": the uploader must give the license's link and text.
    is_other = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def commercial_rank(self) -> int:
        return CommercialUse.rank(self.commercial_use)


class BaseModel(models.Model):
    """The architecture family a version was trained on or for (SD 1.5, SDXL, FLUX...)."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=80, unique=True)
    license = models.ForeignKey(License, null=True, blank=True, on_delete=models.PROTECT)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def downloads_band() -> Length:
    """The band of downloads a model is in, for a ranked search (selectors.SEARCH_ORDER):
    half an order of magnitude each, counted as the digits of the count squared. 1 for 0 to
    3 downloads, 2 for 4 to 9, 3 for 10 to 31, 4 for 32 to 99, 5 for 100 to 316, ... Plain
    digits (bands ten times wide) made a band too wide to rank quickly: the 19,000 models
    with 100 to 999 downloads (docs/PERFORMANCE.md). Squared as a bigint: the largest count
    fits in 63 bits squared, and the expression is the same on SQLite."""
    count = Cast("download_count", models.BigIntegerField())
    return Length(Cast(count * count, models.TextField()))


class Model(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="hub_models"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=50_000)
    type = models.CharField(max_length=24, choices=ModelType.choices)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    nsfw_level = models.PositiveSmallIntegerField(default=NsfwLevel.PG)
    tags = models.ManyToManyField(Tag, blank=True, related_name="models")

    license = models.ForeignKey(License, on_delete=models.PROTECT, related_name="models")
    license_other_url = models.URLField(blank=True, max_length=500)
    license_other_text = models.TextField(blank=True, max_length=20_000)
    allow_commercial_use = models.CharField(
        max_length=8, choices=CommercialUse.choices, default=CommercialUse.NONE
    )
    allow_no_credit = models.BooleanField(default=False)
    allow_derivatives = models.BooleanField(default=True)
    allow_different_license = models.BooleanField(default=False)

    cover_image = models.ForeignKey(
        "GalleryImage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    download_count = models.PositiveIntegerField(default=0)
    # Counters kept by community.services with the rows they count (like_count counts
    # favourites; thumbs count visible reviews of every version).
    like_count = models.PositiveIntegerField(default=0)
    comment_count = models.PositiveIntegerField(default=0)
    thumbs_up_count = models.PositiveIntegerField(default=0)
    thumbs_down_count = models.PositiveIntegerField(default=0)
    # Name, tags, creator, trigger words and description in one column, kept by services;
    # PostgreSQL indexes it for full-text search (see migration 0003).
    search_document = models.TextField(blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    objects = ModelQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["status", "-published_at"], name="model_status_published"),
            models.Index(fields=["status", "-download_count"], name="model_status_downloads"),
            models.Index(fields=["status", "-like_count"], name="model_status_likes"),
            # The API's default sort, "Highest Rated": without it, a page of 100 sorted every
            # published model (195 ms at 100,000 models, 5 ms with it; docs/PERFORMANCE.md).
            models.Index(
                fields=["status", "-thumbs_up_count", "-like_count", "-download_count", "-id"],
                name="model_status_rated",
            ),
            # Browse's sorts for a member who has unpublished models of their own: "published
            # or theirs" cannot use the indexes above (status comes first), and PostgreSQL
            # sorted every listed model on disk, 120 ms against 24 ms walking these
            # (docs/PERFORMANCE.md). NULL published_at (never published) sorts first, as
            # browse orders it.
            models.Index(fields=["-published_at", "-id"], name="model_newest"),
            models.Index(fields=["-download_count", "-id"], name="model_downloads"),
            models.Index(fields=["-like_count", "-id"], name="model_likes"),
            # A ranked search walks the bands from the most downloaded and ranks one band at
            # a time (selectors.SEARCH_ORDER): a word that 30,000 models match had them all
            # ranked before (docs/PERFORMANCE.md).
            models.Index(downloads_band().desc(), F("id").desc(), name="model_downloads_band"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(nsfw_level__gte=0) & Q(nsfw_level__lte=63), name="model_nsfw_mask"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("models_hub:detail", kwargs={"pk": self.pk, "slug": self.slug})

    def get_type_display(self) -> str:
        return label_of(ModelType, self.type)

    def get_status_display(self) -> str:
        return label_of(Status, self.status)

    @property
    def slug(self) -> str:
        return slugify(self.name) or "model"


class ModelVersion(models.Model):
    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="versions")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=50_000)
    base_model = models.ForeignKey(BaseModel, on_delete=models.PROTECT, related_name="versions")
    trained_words = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    nsfw_level = models.PositiveSmallIntegerField(default=NsfwLevel.PG)
    # What the creator said at upload; `nsfw_level` is then the OR of its images' ratings.
    declared_nsfw_level = models.PositiveSmallIntegerField(default=NsfwLevel.PG)
    # The checks pipeline's last decision (moderation/pipeline.py) and when it was made.
    decision = models.CharField(max_length=8, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # Findings ("rule|message") a moderator has decided on: the pipeline does not hold the
    # version for them again when it re-runs (moderation/queue.py).
    staff_reviewed = models.JSONField(default=list, blank=True)
    # A moderator found it depicts a real person: labelled so, and never with R or above.
    depicts_real_person = models.BooleanField(default=False)
    # The creator asked for publication: it happens once background processing is done.
    publish_requested = models.BooleanField(default=False)
    # Why an automatic publication did not happen, in words shown to the creator.
    hold_reason = models.TextField(blank=True)
    download_count = models.PositiveIntegerField(default=0)
    thumbs_up_count = models.PositiveIntegerField(default=0)  # kept by community.services
    thumbs_down_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.model.name} {self.name}"

    def get_absolute_url(self) -> str:
        return f"{self.model.get_absolute_url()}?version={self.pk}"

    def get_status_display(self) -> str:
        return label_of(Status, self.status)


class VersionParent(models.Model):
    """A model this version was merged from or fine-tuned on: on this hub, or named outside it."""

    class Relation(models.TextChoices):
        MERGE = "merge", "Merged from"
        FINETUNE = "finetune", "Fine-tuned from"

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="parents")
    parent_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    # Always filled: a snapshot of the parent's name, so lineage stays readable if it goes.
    name = models.CharField(max_length=200)
    external_hash = models.CharField(max_length=64, blank=True)
    external_url = models.URLField(blank=True, max_length=500)
    relation = models.CharField(max_length=10, choices=Relation.choices, default=Relation.MERGE)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["version", "parent_version"],
                condition=Q(parent_version__isnull=False),
                name="unique_parent_per_version",
            ),
            models.CheckConstraint(condition=~Q(name=""), name="parent_has_name"),
        ]

    def __str__(self) -> str:
        return self.name


class ModelFile(models.Model):
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="files")
    file = models.FileField(upload_to=model_file_key, max_length=255)
    # The name people download it as: normalised from the upload, never used as a path.
    name = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField()
    format = models.CharField(max_length=16, choices=FileFormat.choices)
    file_type = models.CharField(max_length=16, choices=FileType.choices, default=FileType.MODEL)
    precision = models.CharField(max_length=8, choices=Precision.choices, blank=True)
    is_primary = models.BooleanField(default=False)

    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    # Every hash is indexed: tools look files up by any of them (/by-hash/, parents).
    autov1 = models.CharField(max_length=8, blank=True, db_index=True)
    autov2 = models.CharField(max_length=10, blank=True, db_index=True)
    autov3 = models.CharField(max_length=64, blank=True, db_index=True)
    crc32 = models.CharField(max_length=8, blank=True, db_index=True)
    blake3 = models.CharField(max_length=64, blank=True, db_index=True)
    hash_status = models.CharField(
        max_length=8, choices=JobStatus.choices, default=JobStatus.PENDING
    )
    hash_error = models.TextField(blank=True)

    # Safety: pickles are scanned by a worker; other formats are checked at upload.
    scan_result = models.CharField(
        max_length=8, choices=ScanResult.choices, default=ScanResult.PENDING, db_index=True
    )
    scan_message = models.TextField(blank=True)
    scan_globals = models.JSONField(default=list, blank=True)
    # Which rules gave the verdict: a newer scanner does not reuse an older one's Success.
    scanner_version = models.PositiveSmallIntegerField(default=0)
    scanned_at = models.DateTimeField(null=True, blank=True)
    # What the file says about itself: tensor count, its metadata (values capped), and the
    # models its metadata names as parents (for the license check).
    tensor_count = models.PositiveIntegerField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    named_parents = models.JSONField(default=list, blank=True)

    # When a hash or scan job last changed state (the sweeper finds lost jobs by it), the
    # Celery task id of the delivery working on it, and how many deliveries started it
    # (see models_hub.jobs).
    job_updated_at = models.DateTimeField(default=timezone.now)
    job_task_id = models.CharField(max_length=64, blank=True)
    job_attempts = models.PositiveSmallIntegerField(default=0)

    download_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ModelFileQuerySet.as_manager()

    class Meta:
        ordering = ["-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["version"], condition=Q(is_primary=True), name="one_primary_file"
            ),
            models.CheckConstraint(condition=Q(size_bytes__gt=0), name="file_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_quarantined(self) -> bool:
        return self.scan_result == ScanResult.DANGER

    @property
    def hashes(self) -> dict[str, str]:
        return labelled({field: getattr(self, field) for field in HASH_LABELS.values()})


@dataclass(frozen=True)
class FilesState:
    """Where a version's files stand, for the pipeline and for publishing alike."""

    quarantined: bool  # a scan found code a loader would run: never published
    processing: bool  # a hash or a scan still to run
    unchecked: bool  # a hash or a scan ended as ERROR: staff must look first


def files_state(files) -> FilesState:
    """From already loaded (or prefetched) files: no query of its own."""
    files = list(files)
    unfinished = (JobStatus.PENDING, JobStatus.RUNNING, ScanResult.PENDING, ScanResult.RUNNING)
    return FilesState(
        quarantined=any(f.scan_result == ScanResult.DANGER for f in files),
        processing=any(f.hash_status in unfinished or f.scan_result in unfinished for f in files),
        unchecked=any(
            f.hash_status == JobStatus.ERROR or f.scan_result == ScanResult.ERROR for f in files
        ),
    )


class ResumableUpload(models.Model):
    """A model file arriving in chunks. The bytes collect in a temp file under
    HUB_UPLOAD_DIR; `received` only moves once a whole chunk is on disk."""

    class State(models.TextChoices):
        OPEN = "open", "Receiving"
        CHECKING = "checking", "Being checked"
        COMPLETE = "complete", "Complete"
        ATTACHING = "attaching", "Being attached"
        USED = "used", "Attached to a version"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="resumable_uploads"
    )
    filename = models.CharField(max_length=255)
    size = models.BigIntegerField()
    expected_sha256 = models.CharField(max_length=64, blank=True)
    received = models.BigIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    error = models.TextField(blank=True)
    # Filled when complete: what the content is and every hash, computed in one pass.
    format = models.CharField(max_length=16, blank=True)
    hashes = models.JSONField(default=dict, blank=True)
    # Direct uploads to S3: the browser sends parts to the bucket through presigned URLs.
    s3_key = models.CharField(max_length=255, blank=True)
    s3_upload_id = models.CharField(max_length=1024, blank=True)
    # What the content said about itself at completion (precision, tensors, metadata,
    # parents), kept for direct uploads whose bytes are not on this server.
    detected = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(size__gt=0), name="upload_not_empty"),
            models.CheckConstraint(condition=Q(received__lte=F("size")), name="upload_within_size"),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.received}/{self.size})"

    @property
    def is_direct(self) -> bool:
        return bool(self.s3_upload_id)

    @property
    def temp_path(self) -> Path:
        return Path(settings.HUB_UPLOAD_DIR) / f"{self.pk}.part"


class GalleryImage(models.Model):
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="images")
    image = models.FileField(upload_to=gallery_image_key, max_length=255)
    thumbnail = models.FileField(upload_to=gallery_thumbnail_key, max_length=255, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    nsfw_level = models.PositiveSmallIntegerField(default=NsfwLevel.PG)
    # Generation parameters read from the upload (A1111 text or ComfyUI JSON), kept as data.
    generation_params = models.JSONField(default=dict, blank=True)
    # The placeholder browsers draw while the image loads (https://blurha.sh), set with the
    # thumbnail; empty until then.
    blurhash = models.CharField(max_length=100, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    process_status = models.CharField(
        max_length=8, choices=JobStatus.choices, default=JobStatus.PENDING
    )
    process_error = models.TextField(blank=True)
    # A moderator's rating (BLOCKED hides the image): it wins over the NSFW check's, and the
    # pipeline, running again, keeps it.
    staff_nsfw_level = models.PositiveSmallIntegerField(null=True, blank=True)
    job_updated_at = models.DateTimeField(default=timezone.now)
    job_task_id = models.CharField(max_length=64, blank=True)
    job_attempts = models.PositiveSmallIntegerField(default=0)
    # Reaction and comment counters, kept by community.services.
    like_count = models.PositiveIntegerField(default=0)
    heart_count = models.PositiveIntegerField(default=0)
    laugh_count = models.PositiveIntegerField(default=0)
    cry_count = models.PositiveIntegerField(default=0)
    comment_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = GalleryImageQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        indexes = [
            # The media view finds the image a requested path belongs to (to check who may
            # see it): without these, every picture request read the whole table (115 ms at
            # 1,000,000 images; docs/PERFORMANCE.md).
            models.Index(fields=["image"], name="galleryimage_image_path"),
            models.Index(fields=["thumbnail"], name="galleryimage_thumbnail_path"),
        ]

    def __str__(self) -> str:
        return f"Image {self.pk} of {self.version_id}"

    def get_absolute_url(self) -> str:
        return reverse("image", args=[self.pk])

    @property
    def display_url(self) -> str:
        return (self.thumbnail or self.image).url

    @property
    def srcset(self) -> str:
        """The thumbnail and the full image by width, for <img srcset>; empty when there is
        no thumbnail or it is as wide as the image (nothing to choose between)."""
        from models_hub.formats.images import THUMBNAIL_WIDTH

        if not self.thumbnail or self.width <= THUMBNAIL_WIDTH:
            return ""
        return f"{self.thumbnail.url} {THUMBNAIL_WIDTH}w, {self.image.url} {self.width}w"


class DownloadDay(models.Model):
    """Downloads of a version on one day (UTC), for the charts on model and creator pages;
    counted by download_record with the totals."""

    version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="download_days"
    )
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "day"], name="download_day_once")]

    def __str__(self) -> str:
        return f"{self.version_id} on {self.day}: {self.count}"
