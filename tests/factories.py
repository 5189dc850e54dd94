"""factory_boy factories: rows only, no stored bytes (tests that need bytes upload them)."""

from __future__ import annotations

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from community.models import User
from models_hub.choices import FileFormat, JobStatus, ModelType, NsfwLevel, Status
from models_hub.demo import make_image, make_safetensors
from models_hub.models import (
    BaseModel,
    GalleryImage,
    License,
    Model,
    ModelFile,
    ModelVersion,
    Tag,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.invalid")
    password = factory.django.Password("correct horse battery staple")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag{n}")


class ModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Model

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Model {n}")
    type = ModelType.LORA
    status = Status.PUBLISHED
    nsfw_level = NsfwLevel.PG
    license = factory.LazyFunction(lambda: License.objects.get(slug="mit"))
    allow_commercial_use = "Image"
    published_at = factory.LazyFunction(timezone.now)
    search_document = factory.LazyAttribute(lambda m: m.name)


class VersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelVersion

    model = factory.SubFactory(ModelFactory)
    name = factory.Sequence(lambda n: f"v{n}")
    base_model = factory.LazyFunction(lambda: BaseModel.objects.get(slug="sd-1-5"))
    status = factory.LazyAttribute(lambda v: v.model.status)
    nsfw_level = NsfwLevel.PG
    published_at = factory.LazyFunction(timezone.now)


class FileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelFile

    version = factory.SubFactory(VersionFactory)
    file = factory.Sequence(lambda n: f"models/00/file{n}.safetensors")
    name = factory.Sequence(lambda n: f"file{n}.safetensors")
    size_bytes = 1024
    format = FileFormat.SAFETENSOR
    is_primary = True
    hash_status = JobStatus.DONE
    scan_result = "Success"
    sha256 = "ab" * 32
    autov2 = "ababababab"


class ImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GalleryImage

    version = factory.SubFactory(VersionFactory)
    image = factory.Sequence(lambda n: f"images/00/img{n}.png")
    thumbnail = factory.Sequence(lambda n: f"thumbs/00/img{n}.webp")
    width = 512
    height = 640
    nsfw_level = NsfwLevel.PG
    process_status = JobStatus.DONE


def published_model(**kwargs) -> Model:
    """A published model with one published version, one file and one cover image."""
    model = ModelFactory(**kwargs)
    version = VersionFactory(model=model, status=model.status)
    FileFactory(version=version)
    image = ImageFactory(version=version)
    model.cover_image = image
    model.save(update_fields=["cover_image"])
    return model


# --- The upload form ------------------------------------------------------------------------

WEIGHTS = make_safetensors(seed=7)


def form_data(**overrides) -> dict:
    """A valid upload form (one safetensors file, one sample image); `None` drops a field."""
    data = {
        "name": "Velvet Dreams",
        "type": "LORA",
        "description": "A *soft* style.",
        "tags": "Dreamy, pastel",
        "version_name": "v1.0",
        "base_model": BaseModel.objects.get(slug="sdxl-1-0").pk,
        "trained_words": "velvetstyle, soft light",
        "version_description": "",
        "nsfw_level": 1,
        "license": License.objects.get(slug="creativeml-openrail-plus-plus-m").pk,
        "license_other_url": "",
        "license_other_text": "",
        "allow_commercial_use": "Image",
        "allow_derivatives": "on",
        "parent_version_ids": "",
        "external_parents": "",
        "publish": "on",
        "model_files": [SimpleUploadedFile("velvet.safetensors", WEIGHTS)],
        "images": [SimpleUploadedFile("sample.png", make_image(seed=1, size=(320, 400)))],
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}
