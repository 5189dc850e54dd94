"""Enumerations shared by the catalogue, named as Civitai names them so API clients agree."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ModelType(models.TextChoices):
    CHECKPOINT = "Checkpoint", _("Checkpoint")
    TEXTUAL_INVERSION = "TextualInversion", _("Embedding (Textual Inversion)")
    HYPERNETWORK = "Hypernetwork", _("Hypernetwork")
    AESTHETIC_GRADIENT = "AestheticGradient", _("Aesthetic Gradient")
    LORA = "LORA", _("LoRA")
    LOCON = "LoCon", _("LyCORIS / LoCon")
    DORA = "DoRA", _("DoRA")
    CONTROLNET = "Controlnet", _("ControlNet")
    UPSCALER = "Upscaler", _("Upscaler")
    MOTION_MODULE = "MotionModule", _("Motion Module")
    VAE = "VAE", _("VAE")
    POSES = "Poses", _("Poses")
    WILDCARDS = "Wildcards", _("Wildcards")
    WORKFLOWS = "Workflows", _("Workflows")
    DETECTION = "Detection", _("Detection")
    OTHER = "Other", _("Other")


class NsfwLevel(models.IntegerChoices):
    """A bitmask: a model's level is the OR of its versions', a version's of its images'."""

    # The ratings' names are the same in every language; only "Blocked" is translated.
    PG = 1, "PG"
    PG13 = 2, "PG-13"
    R = 4, "R"
    X = 8, "X"
    XXX = 16, "XXX"
    BLOCKED = 32, pgettext_lazy("content rating", "Blocked")

    @classmethod
    def viewable(cls) -> list[NsfwLevel]:
        return [cls.PG, cls.PG13, cls.R, cls.X, cls.XXX]

    @classmethod
    def combine(cls, levels) -> int:
        """A version's level from its images': their OR, hidden (BLOCKED) ones left out;
        0 when no image counts."""
        combined = 0
        for level in levels:
            if level != cls.BLOCKED:
                combined |= level
        return combined

    @classmethod
    def labels_for(cls, mask: int) -> list[str]:
        return [str(level.label) for level in cls if mask & level]


class Status(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_REVIEW = "in_review", _("In review")
    PUBLISHED = "published", _("Published")
    UNPUBLISHED = "unpublished", _("Unpublished")
    BLOCKED = "blocked", _("Blocked")
    DELETED = "deleted", _("Deleted")


class CommercialUse(models.TextChoices):
    """Ordered from least to most permissive: each level includes the ones before it."""

    NONE = "None", _("No commercial use")
    IMAGE = "Image", _("Sell generated images")
    RENT = "Rent", _("Run it on a paid generation service")
    SELL = "Sell", _("Sell the model or merges of it")

    @classmethod
    def rank(cls, value: str) -> int:
        return [c.value for c in cls].index(value)


class FileFormat(models.TextChoices):
    SAFETENSOR = "SafeTensor", "SafeTensor"
    PICKLETENSOR = "PickleTensor", "PickleTensor"
    GGUF = "GGUF", "GGUF"
    DIFFUSERS = "Diffusers", "Diffusers"
    ONNX = "ONNX", "ONNX"
    OTHER = "Other", "Other"


class FileType(models.TextChoices):
    MODEL = "Model", "Model"
    PRUNED_MODEL = "Pruned Model", "Pruned Model"
    VAE = "VAE", "VAE"
    CONFIG = "Config", "Config"
    TRAINING_DATA = "Training Data", "Training Data"


class Precision(models.TextChoices):
    FP32 = "fp32", "fp32"
    FP16 = "fp16", "fp16"
    BF16 = "bf16", "bf16"
    FP8 = "fp8", "fp8"
    OTHER = "other", "other"
    UNKNOWN = "", "unknown"


class ScanResult(models.TextChoices):
    """A file's safety scan, with Civitai's names for the outcomes (pickleScanResult)."""

    PENDING = "Pending", "Pending"
    RUNNING = "Running", "Running"
    SUCCESS = "Success", "Success"
    DANGER = "Danger", "Danger"
    ERROR = "Error", "Error"


class JobStatus(models.TextChoices):
    """Where background work on a row stands; the row is the record, not the broker."""

    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    ERROR = "error", _("Error")


def label_of(choices: type[models.Choices], value) -> str:
    """The (translated) label of `value` in `choices`, or the value itself when it is not one.
    What Django's get_FOO_display gives, without the dict of every lazy label it builds on
    each call (0.07 ms: a page of 24 cards called it 24 times, the API's list of 100 models
    476 times)."""
    try:
        return str(choices(value).label)
    except ValueError:
        return value
