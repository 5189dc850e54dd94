"""find_faces on 1024x1024 images made from the face fixtures: first call, then ms per image.

.venv/bin/python tests/bench/bench_faces.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from moderation.checks import faces  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "faces"
SIDE = 1024
RUNS = 5


def square(path: Path) -> Image.Image:
    """The photo scaled so its longest side is SIDE, centred on a grey SIDE x SIDE canvas."""
    with Image.open(path) as image:
        photo = image.convert("RGB")
    scale = SIDE / max(photo.size)
    photo = photo.resize(
        (round(photo.width * scale), round(photo.height * scale)), Image.Resampling.LANCZOS
    )
    canvas = Image.new("RGB", (SIDE, SIDE), (128, 128, 128))
    canvas.paste(photo, ((SIDE - photo.width) // 2, (SIDE - photo.height) // 2))
    return canvas


def main() -> None:
    images = {path.stem: square(path) for path in sorted(FIXTURES.glob("*.jpg"))}

    start = time.perf_counter()
    faces.load_models()
    load_ms = (time.perf_counter() - start) * 1000
    first_image = next(iter(images.values()))
    start = time.perf_counter()
    faces.find_faces(first_image)
    first_ms = (time.perf_counter() - start) * 1000
    print(f"first call: model load {load_ms:.0f} ms, then first find_faces {first_ms:.0f} ms")

    medians = []
    for name, image in images.items():
        times = []
        for _ in range(RUNS):
            start = time.perf_counter()
            found = faces.find_faces(image)
            times.append((time.perf_counter() - start) * 1000)
        median = statistics.median(times)
        medians.append(median)
        print(f"{name:<16} {SIDE}x{SIDE}: {len(found)} face(s), median of {RUNS} {median:.0f} ms")
    print(f"all images: median {statistics.median(medians):.0f} ms per image")


if __name__ == "__main__":
    main()
