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
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

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


def publish(server: BenchServer, headers: dict[str, str], upload_id: str) -> int:
    """Attach the completed upload to a new model through the upload form; its version id."""
    fields = {
        "name": "Bench model", "type": "Checkpoint", "version_name": "v1",
        "base_model": "1", "nsfw_level": "1", "license": "1", "allow_commercial_use": "None",
        "publish": "on", "upload_ids": upload_id, "csrfmiddlewaretoken": headers["X-CSRFToken"],
    }  # fmt: skip
    conn = server.connection()
    conn.request("POST", "/upload/", urlencode(fields), {
        **headers, "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json", "Referer": f"http://127.0.0.1:{server.port}/upload/",
    })  # fmt: skip
    response = conn.getresponse()
    answer = json.loads(response.read())
    assert response.status == 201, answer
    return answer["versionId"]


def download_throughput(server: BenchServer, version_id: int, size: int) -> float:
    """Download with curl (a client in C), so the client is not what is measured."""
    url = f"http://127.0.0.1:{server.port}/api/download/models/{version_id}"
    start = time.perf_counter()
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                          url], capture_output=True, text=True, check=True).stdout  # fmt: skip
    elapsed = time.perf_counter() - start
    status, received = out.split()
    assert status == "200" and int(received) == size, out
    return size / elapsed


def drop_caches() -> bool:
    """Empty the page cache, so both reads come from the disk (root only)."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def disk_read_throughput(path: Path) -> float:
    start = time.perf_counter()
    with open(path, "rb") as handle:
        while handle.read(8 * 1024**2):
            pass
    return path.stat().st_size / (time.perf_counter() - start)


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
            version_id = publish(server, headers, done["id"])
            stored = next((server.var / "media" / "models").rglob("*.safetensors"))
            for cache in ("warm", "cold"):
                if cache == "cold" and not drop_caches():
                    print("cold cache: cannot drop the page cache here (needs root)")
                    continue
                disk = disk_read_throughput(stored)
                if cache == "cold":
                    drop_caches()
                served = download_throughput(server, version_id, stored.stat().st_size)
                print(
                    f"{size_gib:g} GiB, {cache} page cache: download {served / 1e6:.0f} MB/s "
                    f"(curl), reading the stored file {disk / 1e6:.0f} MB/s, ratio "
                    f"{served / disk:.2f} (target >= 0.8)"
                )
            stored.unlink()
            path.unlink()


if __name__ == "__main__":
    main()
