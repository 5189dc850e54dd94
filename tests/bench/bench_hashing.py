"""Throughput of the six-hash StreamHasher against hashlib.sha256 alone, in one run.

.venv/bin/python tests/bench/bench_hashing.py
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from models_hub.formats.hashing import StreamHasher  # noqa: E402

CHUNK = os.urandom(8 * 1024 * 1024)
CHUNKS = 64
SAFETENSORS_PREFIX = b"\x08\x00\x00\x00\x00\x00\x00\x00{}      "


def throughput(update) -> float:
    start = time.perf_counter()
    for _ in range(CHUNKS):
        update(CHUNK)
    return CHUNKS * len(CHUNK) / (time.perf_counter() - start) / 1e9


def main() -> None:
    for run in range(3):
        baseline = throughput(hashlib.sha256().update)
        single = StreamHasher(safetensors=True)
        single.PARALLEL_MIN = 1 << 62  # force the one-thread path
        single.update(SAFETENSORS_PREFIX)
        one_thread = throughput(single.update)
        single.close()
        hasher = StreamHasher(safetensors=True)
        hasher.update(SAFETENSORS_PREFIX)
        two_lanes = throughput(hasher.update)
        hasher.close()
        print(
            f"run {run + 1}: sha256 alone {baseline:.2f} GB/s; six hashes one thread "
            f"{one_thread:.2f} GB/s (ratio {one_thread / baseline:.2f}); two lanes "
            f"{two_lanes:.2f} GB/s (ratio {two_lanes / baseline:.2f})"
        )


if __name__ == "__main__":
    main()
