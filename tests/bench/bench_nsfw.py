"""Time of `detect` per image: skimage's photos resized to 1024x1024, median of 5 runs each.

.venv/bin/python tests/bench/bench_nsfw.py

The first call loads the ONNX model and is reported on its own line.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PIL import Image  # noqa: E402
from skimage import data  # noqa: E402

from moderation.checks.nudity import detect  # noqa: E402

PHOTOS = ["astronaut", "coffee", "chelsea", "rocket"]
SIDE = 1024
RUNS = 5


def main() -> None:
    images = {
        name: Image.fromarray(getattr(data, name)()).resize((SIDE, SIDE), Image.Resampling.LANCZOS)
        for name in PHOTOS
    }
    print(f"{os.cpu_count()} CPUs; images {SIDE}x{SIDE}; median of {RUNS} runs")
    start = time.perf_counter()
    detect(images[PHOTOS[0]])
    print(f"first call (model load + one detect): {(time.perf_counter() - start) * 1000:.0f} ms")
    for name, image in images.items():
        times = []
        for _ in range(RUNS):
            start = time.perf_counter()
            detect(image)
            times.append((time.perf_counter() - start) * 1000)
        print(f"{name}: {statistics.median(times):.1f} ms per image")


if __name__ == "__main__":
    main()
