"""Inspection speed: safetensors header reads and pickle scans (issue 3 targets).

    .venv/bin/python tests/bench/bench_inspection.py [workdir]

Makes sparse files (no disk space used for the tensor data) and a 2 GiB torch-style zip
whose tensor members are stored uncompressed, then times each check (best of 5).
"""

from __future__ import annotations

import collections
import json
import os
import pickle
import struct
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from models_hub.formats.pickles import picklescan_opinion, scan_stream  # noqa: E402
from models_hub.formats.safetensors import read_header  # noqa: E402

GiB = 1024**3


def sparse_safetensors(path: Path, size: int, tensors: int = 2000) -> None:
    per = (size // tensors) // 2 * 2
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for index in range(tensors):
        header[f"model.layer{index}.weight"] = {
            "dtype": "F16",
            "shape": [per // 2],
            "data_offsets": [offset, offset + per],
        }
        offset += per
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(raw)) + raw)
        handle.truncate(8 + len(raw) + offset)


def torch_zip(path: Path, size: int, members: int = 64) -> None:
    state = collections.OrderedDict((f"layer{i}", [float(i)] * 4) for i in range(members))
    per = size // members
    block = os.urandom(1024 * 1024)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(state, protocol=2))
        archive.writestr("archive/version", "3\n")
        for index in range(members):
            with archive.open(f"archive/data/{index}", "w", force_zip64=True) as member:
                for _ in range(per // len(block)):
                    member.write(block)


def best_of(runs: int, action) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return min(timings)


def main() -> None:
    workdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    print(f"work dir: {workdir}")
    for size in (1 * GiB, 8 * GiB):
        path = workdir / f"sparse-{size // GiB}g.safetensors"
        sparse_safetensors(path, size)

        def read(path: Path = path) -> None:
            with open(path, "rb") as handle:
                read_header(handle, path.stat().st_size)

        print(f"safetensors header, {size // GiB} GiB, 2000 tensors: "
              f"{best_of(5, read) * 1000:.1f} ms (target < 20 ms)")  # fmt: skip
    zip_path = workdir / "torch-2g.pt"
    if not zip_path.exists():
        torch_zip(zip_path, 2 * GiB)

    def ours() -> None:
        with open(zip_path, "rb") as handle:
            assert scan_stream(handle).status == "Success"

    def second() -> None:
        with open(zip_path, "rb") as handle:
            picklescan_opinion(handle)

    print(f"pickle scan, 2 GiB torch zip, our scanner: {best_of(5, ours) * 1000:.1f} ms "
          f"(target < 500 ms)")  # fmt: skip
    print(f"pickle scan, 2 GiB torch zip, picklescan: {best_of(5, second) * 1000:.1f} ms")
    zip_path.unlink()
    for path in workdir.glob("sparse-*.safetensors"):
        path.unlink()


if __name__ == "__main__":
    main()
