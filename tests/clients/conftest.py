"""Fixtures for running real Civitai clients against a live test server: published models
whose files and images really exist under MEDIA_ROOT (with their true hashes in the
database), API keys, and runners for curl and wget that never hang."""

from __future__ import annotations

import io
import json
import random
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.cache import cache

from community.api_keys import api_key_create
from models_hub.choices import NsfwLevel, Status
from models_hub.demo import make_image
from models_hub.formats.hashing import hash_stream
from models_hub.models import GalleryImage, Model, ModelFile, ModelVersion, Tag
from tests.factories import FileFactory, ImageFactory, ModelFactory, VersionFactory

# A tool that hangs must fail its test, never the whole CI job.
TOOL_TIMEOUT = 60


def weights(*, size: int, seed: int) -> bytes:
    """A valid safetensors file of about `size` bytes: one F32 tensor of random values.

    Sizes that are not a multiple of 1024 make `sizeKB` a fraction, which pycivitai must
    still turn back into the exact byte count; past 1 MiB the file also has an AutoV1.
    """
    count = max(1, (size - 128) // 4)
    header = {
        "__metadata__": {"format": "pt"},
        "weight": {"dtype": "F32", "shape": [count], "data_offsets": [0, 4 * count]},
    }
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + random.Random(seed).randbytes(4 * count)


@dataclass
class Published:
    model: Model
    version: ModelVersion
    file: ModelFile
    data: bytes
    image: GalleryImage | None
    image_data: bytes | None

    def reload_counts(self) -> tuple[int, int, int]:
        """Download counts of the file, its version and its model, as stored now."""
        return (
            ModelFile.objects.get(pk=self.file.pk).download_count,
            ModelVersion.objects.get(pk=self.version.pk).download_count,
            Model.objects.get(pk=self.model.pk).download_count,
        )


@pytest.fixture
def hub(live_server) -> str:
    """The live server's base URL, with fresh API rate-limit counters.

    The counters live in the cache, which outlives a test (and, with Redis, the process):
    without this, earlier tests' requests from 127.0.0.1 could push ours over the limit.
    """
    cache.clear()
    return live_server.url


@pytest.fixture
def publish(settings):
    """publish(owner=..., name=..., ...) -> Published: a model, a version, a primary file
    whose bytes are on disk with their true hashes, and (unless image=False) a PG image."""

    def make(
        *,
        owner,
        name: str,
        file_name: str = "weights.safetensors",
        data: bytes | None = None,
        version_name: str = "v1.0",
        tags: tuple[str, ...] = ("pastel",),
        image: bool = True,
        status: str = Status.PUBLISHED,
        seed: int = 1,
    ) -> Published:
        data = data if data is not None else weights(size=1_300_001 + seed, seed=seed)
        model = ModelFactory(owner=owner, name=name, status=status, search_document=name)
        model.tags.add(*(Tag.objects.get_or_create(name=tag)[0] for tag in tags))
        version = VersionFactory(model=model, name=version_name, status=status)
        hashes = hash_stream(io.BytesIO(data), safetensors=True)
        model_file = FileFactory(
            version=version,
            file=f"models/{seed % 100:02d}/{model.pk}-{version.pk}.safetensors",
            name=file_name,
            size_bytes=len(data),
            **hashes.as_fields(),
        )
        _write(settings.MEDIA_ROOT / model_file.file.name, data)
        picture = picture_data = None
        if image:
            picture_data = make_image(seed=seed, size=(64, 80), prompt=f"{name} sample")
            picture = ImageFactory(
                version=version,
                image=f"images/{seed % 100:02d}/{version.pk}-cover.png",
                width=64,
                height=80,
                nsfw_level=NsfwLevel.PG,
            )
            _write(settings.MEDIA_ROOT / picture.image.name, picture_data)
            model.cover_image = picture
            model.save(update_fields=["cover_image"])
        return Published(model, version, model_file, data, picture, picture_data)

    return make


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture
def api_key():
    """api_key(user, scopes=...) -> the raw key, as its owner would paste it into a tool."""

    def make(user, scopes=("read", "download")) -> str:
        _, raw = api_key_create(user=user, name="tools", scopes=list(scopes))
        return raw

    return make


@pytest.fixture
def tool():
    """tool("curl", *args, cwd=...) -> CompletedProcess. A test that runs a program carries
    its requirement mark (needs_curl, needs_wget from tests/conftest.py)."""

    def run(program: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        executable = shutil.which(program)
        assert executable, f"{program} is not installed: mark the test needs_{program}"
        # Ignore the user's ~/.curlrc / ~/.wgetrc and any proxy: only 127.0.0.1 is reached.
        config = {"curl": ["-q", "--noproxy", "*"], "wget": ["--no-config", "--no-proxy"]}
        return subprocess.run(
            [executable, *config.get(program, []), *args],
            cwd=cwd,
            timeout=TOOL_TIMEOUT,
            check=False,
            capture_output=True,
            text=True,
        )

    return run
