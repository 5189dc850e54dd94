"""Time per 1024x1024 image of the NSFW and likeness checks, and the pipeline's overhead.

    .venv/bin/python tests/bench/bench_checks.py [rounds]   (default: 3)

Eight 1024x1024 images (scikit-image's samples and the face fixtures, resized) are checked
two ways in the same run, after one warm-up that loads the models:
- directly: Pillow decodes the stored PNG, then nudity.detect + rate_detections and
  faces.find_faces;
- through the pipeline: check_run_execute for each image's NSFW and likeness CheckRun (claim,
  open from storage, the same detectors, findings, save, the pipeline's decision).
The ratio pipeline / direct is the pipeline's own overhead (target <= 1.2). A throwaway
SQLite database and media folder are used.
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="bench-checks-"))
os.environ.update(
    DJANGO_SETTINGS_MODULE="config.settings",
    DEBUG="1",
    VAR_DIR=str(WORK),
    MEDIA_ROOT=str(WORK / "media"),
    CELERY_TASK_ALWAYS_EAGER="1",
)
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)

import django  # noqa: E402

django.setup()

from django.core.files.base import ContentFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data  # noqa: E402

from models_hub.models import GalleryImage  # noqa: E402
from moderation import services  # noqa: E402
from moderation.checks import faces, nudity  # noqa: E402
from moderation.models import CheckRun  # noqa: E402

FACES = ROOT / "tests" / "fixtures" / "faces"


def images_1024() -> list[bytes]:
    pictures = [Image.fromarray(getattr(data, n)()) for n in ("astronaut", "coffee", "chelsea")]
    pictures += [Image.open(p) for p in sorted(FACES.glob("*.jpg"))]
    out = []
    for picture in pictures:
        buffer = io.BytesIO()
        picture.convert("RGB").resize((1024, 1024)).save(buffer, "PNG")
        out.append(buffer.getvalue())
    return out


def direct(raw: bytes) -> None:
    picture = Image.open(io.BytesIO(raw))
    picture.load()
    nudity.rate_detections(nudity.detect(picture))
    faces.find_faces(picture)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    call_command("migrate", verbosity=0)
    from tests.factories import ImageFactory, VersionFactory

    raws = images_1024()
    direct(raws[0])  # warm-up: loads both models
    version = VersionFactory()
    direct_times, pipeline_times = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        for raw in raws:
            direct(raw)
        direct_times.append(time.perf_counter() - started)

        runs = []
        for raw in raws:
            image = ImageFactory(version=version, thumbnail="")
            image.image.save("bench.png", ContentFile(raw))
            GalleryImage.objects.filter(pk=image.pk).update(process_status="done")
            for kind in ("nsfw", "likeness"):
                runs.append(CheckRun.objects.create(kind=kind, version=version, image=image))
        started = time.perf_counter()
        for run in runs:
            services.check_run_execute(run_id=run.pk, task_id="bench")
        pipeline_times.append(time.perf_counter() - started)
    d, p = statistics.median(direct_times), statistics.median(pipeline_times)
    per_image = {
        kind: statistics.median(
            CheckRun.objects.filter(kind=kind).values_list("duration_ms", flat=True)
        )
        for kind in ("nsfw", "likeness")
    }
    print(f"{len(raws)} images 1024x1024, median of {rounds} rounds, {os.cpu_count()} CPUs")
    print(f"check time per image (CheckRun.duration_ms, median): {per_image}")
    print(f"direct detectors: {d * 1000 / len(raws):.0f} ms per image")
    print(f"through the pipeline: {p * 1000 / len(raws):.0f} ms per image")
    print(f"pipeline / direct: {p / d:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
