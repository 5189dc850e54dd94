"""Time from an upload's commit to its decision, for a version with one large safetensors file
and six 1024x1024 images, on two worker processes; and where that time goes.

    .venv/bin/python tests/bench/bench_decision.py [size_gib] [--cold]   (default: 2)

Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379. The bench uses
a database of its own, `modelhub_bench` (created and migrated if needed; BENCH_DATABASE_URL
overrides it), and Redis database 7 (BENCH_REDIS_URL), which it empties before and after.

What it does:
- starts two `celery worker` processes, each `--concurrency 1` and consuming every queue
  (scan, images, default), with the production settings (DEBUG off, CONN_MAX_AGE 60). The
  workers are this file run with `--worker`: a plain `celery worker` plus three bench hooks,
  (a) each pool process loads nudenet and dlib when it starts (a long-running worker has
  them loaded; their load time is printed apart), (b) task_prerun/task_postrun log the wall
  clock and the process CPU time of every task with its arguments, (c) the pipeline's
  `version_decide` logs how long each call took;
- a warm-up upload (a tiny safetensors file and the same six images), then the measured
  one. Both go through the real upload form (UploadForm) and `model_upload`, as the web view
  does. The model file is a Django TemporaryUploadedFile, as the web server leaves a large
  upload: a valid safetensors header, then `size_gib` GiB of tensor data made of one 64 MiB
  block of os.urandom bytes written again and again (real bytes on disk, not sparse; hashing
  cost does not depend on the content), fsynced before the upload. Local storage moves it
  into MEDIA_ROOT. With --cold the file is dropped from the page cache (posix_fadvise) before
  the upload and before the in-process hash; by default it is warm, as just after an upload;
- the clock starts at the upload transaction's commit (when its first on_commit callback,
  the one that enqueues the hashing and thumbnails, starts) and stops at the version's
  `decided_at`, written by the worker that finished last;
- per job: queue wait (start - commit), run time (the worker log's "succeeded in"), CPU;
  per kind: sum and wall; the pipeline's calls; and the CPU that every other process on the
  machine used meanwhile (figures taken while something else was busy are not comparable);
- then, with the workers stopped, the same parts in this process one after the other: the
  six hashes of the stored file (hash_stream, as model_file_hash calls it) and hashlib.sha256
  alone, the six thumbnails, each check's own function (run_nsfw, run_likeness, the license
  and text checks). Their sum and the two-worker bound max(longest job, sum / 2) are compared
  with the commit-to-decision time.

A temporary folder under /tmp holds MEDIA_ROOT, the model file and the worker logs; it is
deleted at the end, also on error. The rows stay in the bench database.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/modelhub_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
BLOCK = 64 * 1024 * 1024
IMAGES = 6
IMAGE_SIZE = (1024, 1024)
WORKERS = ("bench1", "bench2")


# --- The worker processes ---------------------------------------------------------------------


def worker_main(celery_args: list[str]) -> None:
    """`celery worker` with the bench's hooks (see the module docstring); logs `BENCH {json}`."""
    import logging

    import django

    django.setup()
    from celery.signals import task_postrun, task_prerun, worker_process_init

    from moderation import pipeline

    log = logging.getLogger("bench")

    def emit(**fields) -> None:
        log.warning("BENCH %s", json.dumps(fields))

    original = pipeline.version_decide

    def timed_decide(*, version_id: int) -> str:
        started = time.perf_counter()
        outcome = original(version_id=version_id)
        emit(event="decide", version=version_id, outcome=outcome, t=time.time(),
             ms=(time.perf_counter() - started) * 1000)  # fmt: skip
        return outcome

    pipeline.version_decide = timed_decide

    @worker_process_init.connect(weak=False)
    def load_models(**_) -> None:
        from moderation.checks import faces, nudity

        started = time.perf_counter()
        nudity._get_detector()
        faces.load_models()
        emit(event="models", ms=(time.perf_counter() - started) * 1000, pid=os.getpid())

    @task_prerun.connect(weak=False)
    def started(task_id=None, task=None, args=None, **_) -> None:
        emit(event="start", id=task_id, name=task.name, args=list(args or ()), t=time.time(),
             cpu=time.process_time(), pid=os.getpid())  # fmt: skip

    @task_postrun.connect(weak=False)
    def finished(task_id=None, state=None, **_) -> None:
        emit(event="end", id=task_id, state=state, t=time.time(), cpu=time.process_time())

    from celery.bin.celery import main as celery_main

    sys.argv = ["celery", "-A", "config", "worker", *celery_args]
    celery_main()


class Worker:
    def __init__(self, name: str, work: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log_path = work / f"{name}.log"
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--worker", "-n", f"{self.name}@%h",
                 "--queues", "scan,images,default", "--concurrency", "1", "--pool", "prefork",
                 "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


RECEIVED = re.compile(
    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): INFO/MainProcess\] "
    r"Task ([\w.]+)\[([0-9a-f-]+)\] received"
)
SUCCEEDED = re.compile(r"Task ([\w.]+)\[([0-9a-f-]+)\] succeeded in ([0-9.e+-]+)s")
BENCH = re.compile(r"BENCH (\{.*\})\s*$")


def parse_log(text: str, node: str) -> tuple[dict[str, dict], list[dict], list[dict]]:
    """Tasks by id (name, args, received, start, end, run, cpu), decide calls, model loads."""
    tasks: dict[str, dict] = {}
    decides, loads = [], []
    for line in text.splitlines():
        if match := RECEIVED.search(line):
            stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            tasks.setdefault(match.group(3), {"node": node})["received"] = stamp
        elif match := SUCCEEDED.search(line):
            tasks.setdefault(match.group(2), {"node": node})["run"] = float(match.group(3))
        elif match := BENCH.search(line):
            event = json.loads(match.group(1))
            if event["event"] == "start":
                task = tasks.setdefault(event["id"], {"node": node})
                task.update(name=event["name"], args=event["args"], start=event["t"],
                            cpu_start=event["cpu"])  # fmt: skip
            elif event["event"] == "end":
                task = tasks.setdefault(event["id"], {"node": node})
                task.update(end=event["t"], cpu=event["cpu"] - task.get("cpu_start", event["cpu"]))
                task["state"] = event["state"]
            elif event["event"] == "decide":
                decides.append({**event, "node": node})
            elif event["event"] == "models":
                loads.append({**event, "node": node})
    return tasks, decides, loads


# --- The upload ---------------------------------------------------------------------------------


def safetensors_header(data_bytes: int) -> bytes:
    """A valid header for F16 tensors of at most BLOCK bytes that tile `data_bytes` exactly."""
    header: dict[str, object] = {"__metadata__": {"format": "pt", "modelspec.title": "bench"}}
    offset, index = 0, 0
    while offset < data_bytes:
        size = min(BLOCK, data_bytes - offset)
        header[f"model.layers.{index}.weight"] = {
            "dtype": "F16", "shape": [size // 2], "data_offsets": [offset, offset + size],
        }  # fmt: skip
        offset += size
        index += 1
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw


def big_model_file(size_gib: float, cold: bool):
    """A TemporaryUploadedFile holding a valid safetensors file, as the web server leaves it."""
    from django.core.files.uploadedfile import TemporaryUploadedFile

    data_bytes = int(size_gib * 1024**3) // 2 * 2
    upload = TemporaryUploadedFile("bench.safetensors", "application/octet-stream", 0, None)
    block = os.urandom(BLOCK)
    started = time.perf_counter()
    upload.file.write(safetensors_header(data_bytes))
    left = data_bytes
    while left:
        n = min(left, BLOCK)
        upload.file.write(block if n == BLOCK else block[:n])
        left -= n
    upload.file.flush()
    os.fsync(upload.file.fileno())
    upload.size = os.fstat(upload.file.fileno()).st_size
    if cold:
        os.posix_fadvise(upload.file.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    upload.seek(0)
    return upload, time.perf_counter() - started


def upload_version(owner, name: str, model_file, images: list[bytes]) -> tuple:
    """Upload through the form and the service, as the web view does; returns the version,
    the commit time (epoch), the time the messages were all sent, and the time before commit."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils.datastructures import MultiValueDict

    from models_hub import tasks as hub_tasks
    from models_hub.forms import UploadForm
    from models_hub.services import model_upload
    from moderation import tasks as check_tasks
    from tests.factories import form_data

    marks: dict[str, float] = {}
    enqueue_processing, enqueue_checks = (
        hub_tasks.enqueue_version_processing, check_tasks.enqueue_checks,
    )  # fmt: skip

    def processing(*args, **kwargs):
        marks["commit"] = time.time()  # the first on_commit callback: the commit just returned
        return enqueue_processing(*args, **kwargs)

    def checks(*args, **kwargs):
        result = enqueue_checks(*args, **kwargs)
        marks["sent"] = time.time()
        return result

    data = form_data(name=name)
    del data["model_files"], data["images"]
    files = MultiValueDict({
        "model_files": [model_file],
        "images": [SimpleUploadedFile(f"{i}.png", raw) for i, raw in enumerate(images)],
    })  # fmt: skip
    hub_tasks.enqueue_version_processing, check_tasks.enqueue_checks = processing, checks
    try:
        started = time.time()
        form = UploadForm(data, files, user=owner)
        if not form.is_valid():
            raise RuntimeError(f"the upload form refused the bench upload: {form.errors}")
        version = model_upload(owner=owner, **form.service_arguments())
    finally:
        hub_tasks.enqueue_version_processing, check_tasks.enqueue_checks = (
            enqueue_processing, enqueue_checks,
        )  # fmt: skip
    return version, marks["commit"], marks["sent"], marks["commit"] - started


def wait_for_decision(version, workers: list[Worker], timeout: float) -> float:
    from models_hub.models import ModelVersion

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        decided_at = ModelVersion.objects.filter(pk=version.pk).values_list(
            "decided_at", flat=True
        )[0]
        if decided_at is not None:
            return time.time()
        if any(w.process.poll() is not None for w in workers):
            raise RuntimeError("a worker died:\n" + "\n".join(w.log()[-3000:] for w in workers))
        time.sleep(0.05)
    raise RuntimeError(
        f"no decision after {timeout:.0f} s:\n" + "\n".join(w.log()[-3000:] for w in workers)
    )


# --- Analysis ---------------------------------------------------------------------------------


def jobs_of(version, workers: list[Worker], expected: int, timeout: float = 60) -> tuple:
    """The tasks of one version from the worker logs (once all have ended), its decide calls."""
    from models_hub.models import ModelFile
    from moderation.models import CheckRun

    files = dict(ModelFile.objects.filter(version=version).values_list("pk", "name"))
    images = {pk: i for i, pk in enumerate(version.images.order_by("position", "pk")
                                           .values_list("pk", flat=True))}  # fmt: skip
    runs = {run.pk: run for run in CheckRun.objects.filter(version=version).select_related("image")}
    deadline = time.monotonic() + timeout
    while True:
        tasks, decides, loads = {}, [], []
        for worker in workers:
            t, d, m = parse_log(worker.log(), worker.name)
            tasks.update(t)
            decides += d
            loads += m
        mine = {}
        for task_id, task in tasks.items():
            name, args = task.get("name"), task.get("args") or [None]
            if name == "models_hub.hash_model_file" and args[0] in files:
                task["what"], task["kind"] = f"hash {files[args[0]]}", "hash"
            elif name == "models_hub.scan_model_file" and args[0] in files:
                task["what"], task["kind"] = f"scan {files[args[0]]}", "scan"
            elif name == "models_hub.process_gallery_image" and args[0] in images:
                task["what"], task["kind"] = f"thumbnail image {images[args[0]] + 1}", "thumbnail"
            elif name == "moderation.run_check" and args[0] in runs:
                run = runs[args[0]]
                where = f" image {images[run.image_id] + 1}" if run.image_id else ""
                task["what"], task["kind"] = f"check {run.kind}{where}", f"check {run.kind}"
                task["check_ms"] = CheckRun.objects.filter(pk=run.pk).values_list(
                    "duration_ms", flat=True
                )[0]
            else:
                continue
            mine[task_id] = task
        done = all("end" in t and "run" in t for t in mine.values())
        if (len(mine) >= expected and done) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    version_decides = [d for d in decides if d["version"] == version.pk]
    complete = [t for t in mine.values() if {"start", "end", "run"} <= t.keys()]
    if len(complete) < expected:
        print(f"warning: only {len(complete)} of {expected} jobs were seen start and end")
    return sorted(complete, key=lambda t: t["start"]), version_decides, loads


def cpu_snapshot() -> tuple[float, dict[int, tuple[str, int, float]]]:
    """CPU seconds: the machine's busy time, and each process's (name, parent, user + system)."""
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:9]]
    busy = (sum(values) - values[3] - values[4]) / tick  # all but idle and iowait
    processes = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                raw = stat.read()
            name = raw[raw.index("(") + 1 : raw.rindex(")")]
            if name.startswith(("postgres", "python", "pytest", "celery")):
                with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                    name = cmdline.read().replace(b"\0", b" ").decode(errors="replace")[:80]
        except (OSError, ValueError):
            continue
        rest = raw[raw.rindex(")") + 2 :].split()
        processes[int(entry.name)] = (name, int(rest[1]), (int(rest[11]) + int(rest[12])) / tick)
    return busy, processes


def cpu_report(before, after, seconds: float, workers) -> None:
    """Who used the CPU between two snapshots: ours (workers, this process, the bench
    database's backends, Redis) and anything else running on the machine."""
    ours = {os.getpid(), *(w.process.pid for w in workers if w.process)}
    grown = True
    while grown:  # the workers' pool processes, and theirs
        grown = False
        for pid, (_, parent, _) in after[1].items():
            if parent in ours and pid not in ours:
                ours.add(pid)
                grown = True
    bench_db = DATABASE_URL.rsplit("/", 1)[1]
    groups: dict[str, float] = {}
    for pid, (name, _, cpu) in after[1].items():
        used = cpu - before[1].get(pid, (name, 0, 0.0))[2]
        if used <= 0:
            continue
        if pid in ours:
            label = "ours: workers and this process"
        elif bench_db in name:
            label = "ours: PostgreSQL backends of the bench database"
        elif name.startswith("redis"):
            label = "redis-server"
        elif name.startswith("postgres") or "/postgres " in name:
            label = "other: PostgreSQL (its own processes, other databases)"
        else:
            label = f"other: {name}"
        groups[label] = groups.get(label, 0) + used
    busy = after[0] - before[0]
    shown = sorted(groups.items(), key=lambda kv: -kv[1])[:6]
    print(
        f"CPU during the window ({seconds:.2f} s x {os.cpu_count()} CPUs = "
        f"{seconds * os.cpu_count():.2f} CPU s): machine busy {busy:.2f} CPU s; "
        + "; ".join(f"{label} {used:.2f}" for label, used in shown)
    )


def report(title: str, version, commit: float, sent: float, observed: float, workers,
           expected: int, size_bytes: int, cpu: tuple) -> dict:  # fmt: skip
    from models_hub.models import ModelVersion

    version = ModelVersion.objects.get(pk=version.pk)
    total = version.decided_at.timestamp() - commit
    jobs, decides, _ = jobs_of(version, workers, expected)
    print(
        f"\n## {title}: version {version.pk}, decision {version.decision!r}, "
        f"status {version.status!r}"
    )
    print(
        f"commit -> decided_at: {total:.3f} s (seen by polling at +{observed - commit:.3f} s; "
        f"all {expected} messages sent at +{(sent - commit) * 1000:.0f} ms)"
    )
    cpu_report(*cpu, observed - commit, workers)
    print("\n| job | worker | received | start (= queue wait) | end | run | CPU | check's own |")
    print("|---|---|---|---|---|---|---|---|")
    for job in jobs:
        own = f"{job['check_ms']} ms" if job.get("check_ms") is not None else ""
        received = f"+{job['received'] - commit:.3f}" if "received" in job else "?"
        print(
            f"| {job['what']} | {job['node']} | {received} | +{job['start'] - commit:.3f} | "
            f"+{job['end'] - commit:.3f} | {job['run']:.3f} s | {job.get('cpu', 0):.2f} s | "
            f"{own} |"
        )
    kinds: dict[str, list[dict]] = {}
    for job in jobs:
        kinds.setdefault(job["kind"], []).append(job)
    print(
        "\n| part | jobs | sum of run times | check's own work (duration_ms) | "
        "wall (first start -> last end) | CPU |"
    )
    print("|---|---|---|---|---|---|")
    for kind, group in sorted(kinds.items(), key=lambda kv: min(j["start"] for j in kv[1])):
        wall = max(j["end"] for j in group) - min(j["start"] for j in group)
        extra = ""
        if kind == "hash":
            extra = f" ({size_bytes / group[0]['run'] / 1e6:.0f} MB/s)"
        owns = [j["check_ms"] for j in group if j.get("check_ms") is not None]
        own = f"{sum(owns) / 1000:.3f} s" if owns else ""
        print(
            f"| {kind} | {len(group)} | {sum(j['run'] for j in group):.3f} s{extra} | {own} | "
            f"{wall:.3f} s | {sum(j.get('cpu', 0) for j in group):.2f} s |"
        )
    waits = [j["start"] - commit for j in jobs]
    print(
        f"| queue waiting (start - commit) | {len(jobs)} | {sum(waits):.3f} s | | "
        f"max {max(waits):.3f} s | |"
    )
    waiting = [d["ms"] for d in decides if d["outcome"] == "waiting"]
    deciding = [d for d in decides if d["outcome"] != "waiting"]
    deciding_ms = ", ".join(f"{d['ms']:.0f} ms" for d in deciding) or "?"
    print(
        f"| pipeline `version_decide` (inside the jobs above) | {len(decides)} calls | "
        f"{sum(d['ms'] for d in decides) / 1000:.3f} s | | {len(waiting)} 'waiting' calls, "
        f"median {statistics.median(waiting or [0]):.0f} ms; the deciding call {deciding_ms} | |"
    )
    print(f"| total commit -> decided_at | | | | {total:.3f} s | |")
    print()
    for worker in workers:
        mine = sorted((j for j in jobs if j["node"] == worker.name), key=lambda j: j["start"])
        if not mine:
            print(f"{worker.name}: no jobs")
            continue
        busy = sum(j["run"] for j in mine)
        gaps = sum(b["start"] - a["end"] for a, b in zip(mine, mine[1:], strict=False))
        print(
            f"{worker.name}: {len(mine)} jobs, busy {busy:.3f} s "
            f"({busy / total:.0%} of commit -> decision); first start +"
            f"{mine[0]['start'] - commit:.3f} s; gaps between its jobs {gaps * 1000:.0f} ms; "
            f"last end +{mine[-1]['end'] - commit:.3f} s"
        )
    prefetched = [j for j in jobs if j.get("received", j["start"]) < j["start"] - 0.05]
    print(
        "jobs received by a worker more than 50 ms before they started (held behind another "
        f"job in that worker): {', '.join(j['what'] for j in prefetched) or 'none'}"
    )
    last = max(jobs, key=lambda j: j["end"])
    print(f"last job to end: {last['what']} on {last['node']} at +{last['end'] - commit:.3f} s")
    return {"total": total, "jobs": jobs, "decides": decides}


def in_process(version, size_bytes: int, cold: bool) -> dict[str, list[float]]:
    """The parts one after the other in this process, with the workers stopped."""
    import hashlib

    from django.conf import settings

    from models_hub.formats.hashing import CHUNK_SIZE, hash_stream
    from models_hub.formats.images import make_thumbnail
    from moderation.checks import faces, image_checks, license, nudity

    timings: dict[str, list[float]] = {}

    def timed(kind: str, call) -> None:
        started = time.perf_counter()
        call()
        timings.setdefault(kind, []).append(time.perf_counter() - started)

    model_file = version.files.get()
    path = model_file.file.path
    if cold:
        with open(path, "rb") as stream:
            os.posix_fadvise(stream.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)

    def six_hashes() -> None:
        with model_file.file.open("rb") as stream:
            hash_stream(stream, safetensors=True)

    def sha256_alone() -> None:
        digest = hashlib.sha256()
        with open(path, "rb") as stream:
            while chunk := stream.read(CHUNK_SIZE):
                digest.update(chunk)

    timed("hash", six_hashes)
    timed("sha256 alone (reference)", sha256_alone)
    timed("model load (nudenet + dlib)", lambda: (nudity._get_detector(), faces.load_models()))
    images = list(version.images.order_by("position", "pk"))

    def thumbnail(image) -> None:
        with image.image.open("rb") as stream:
            make_thumbnail(stream, max_pixels=settings.HUB_MAX_IMAGE_PIXELS)

    # One untimed call of each check first, as the workers had made during the warm-up
    # upload (the first detection after loading, and the first reverse() of a URL, are slower).
    license.run(version)
    image_checks.run_text_likeness(version)
    image_checks.run_nsfw(images[0])
    image_checks.run_likeness(images[0])
    for image in images:
        timed("thumbnail", lambda image=image: thumbnail(image))
    timed("check license", lambda: license.run(version))
    timed("check text_likeness", lambda: image_checks.run_text_likeness(version))
    for image in images:
        timed("check nsfw", lambda image=image: image_checks.run_nsfw(image))
    for image in images:
        timed("check likeness", lambda image=image: image_checks.run_likeness(image))
    return timings


# --- Main -----------------------------------------------------------------------------------


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    cold = "--cold" in sys.argv[1:]
    size_gib = float(args[0]) if args else 2.0
    work = Path(tempfile.mkdtemp(prefix="bench-decision-"))
    (work / "tmp").mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "bench",
        "DEBUG": "0",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "MEDIA_ROOT": str(work / "media"),
        "VAR_DIR": str(work / "var"),
        "FILE_UPLOAD_TEMP_DIR": str(work / "tmp"),
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DATABASE_CONN_MAX_AGE", None)  # the production default (60 s)
    os.environ.update(env)
    workers = [Worker(name, work, env) for name in WORKERS]
    try:
        run(size_gib, cold, work, workers)
    finally:
        for worker in workers:
            worker.stop()
        shutil.rmtree(work, ignore_errors=True)
        try:
            import redis

            redis.Redis.from_url(REDIS_URL).flushdb()
        except Exception as exc:  # noqa: BLE001 - cleaning up; say so and go on
            print(f"could not empty {REDIS_URL}: {exc}")


def run(size_gib: float, cold: bool, work: Path, workers: list[Worker]) -> None:
    import redis

    name = DATABASE_URL.rsplit("/", 1)[1]
    made = subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name],
                          capture_output=True, text=True)  # fmt: skip
    if made.returncode and "already exists" not in made.stderr:
        raise RuntimeError(made.stderr)
    redis.Redis.from_url(REDIS_URL).flushdb()

    import django

    django.setup()
    from django.core.management import call_command

    from community.models import User
    from models_hub.demo import make_image, make_safetensors

    call_command("migrate", verbosity=0)
    load = os.getloadavg()
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 120
    while not all(w.log().count('"event": "models"') >= 1 and "ready." in w.log()
                  for w in workers):  # fmt: skip
        if time.monotonic() > deadline or any(w.process.poll() is not None for w in workers):
            raise RuntimeError("the workers did not start:\n" + workers[0].log()[-3000:])
        time.sleep(0.2)
    loads = [e for w in workers for e in parse_log(w.log(), w.name)[2]]

    stamp = time.strftime("%Y%m%d-%H%M%S")
    owner = User.objects.create_user(f"bench-{stamp}", password="bench-password-1")
    images = [make_image(seed=i, size=IMAGE_SIZE) for i in range(1, IMAGES + 1)]
    expected = 1 + IMAGES + 2 + 2 * IMAGES  # hash, thumbnails, 2 version checks, 2 per image

    from django.core.files.uploadedfile import SimpleUploadedFile

    tiny = SimpleUploadedFile("warmup.safetensors", make_safetensors(seed=3, tensors=6))
    warm, commit, sent, _ = upload_version(owner, f"Bench warm-up {stamp}", tiny, images)
    cpu_before = cpu_snapshot()
    observed = wait_for_decision(warm, workers, timeout=300)
    cpu = (cpu_before, cpu_snapshot())
    warm_result = report("Warm-up: tiny safetensors file, six images", warm, commit, sent,
                         observed, workers, expected, tiny.size, cpu)  # fmt: skip

    model_file, write_seconds = big_model_file(size_gib, cold)
    size_bytes = model_file.size
    version, commit, sent, before = upload_version(owner, f"Bench {stamp}", model_file, images)
    model_file.close()  # moved into storage: only forget the temporary name
    cpu_before = cpu_snapshot()
    observed = wait_for_decision(version, workers, timeout=600 + 120 * size_gib)
    cpu = (cpu_before, cpu_snapshot())
    title = f"Measured: {size_bytes / 1024**3:.2f} GiB safetensors file, six images"
    result = report(title, version, commit, sent, observed, workers, expected, size_bytes, cpu)
    for worker in workers:
        worker.stop()

    timings = in_process(version, size_bytes, cold)
    print("\n## The same parts in this process, one after the other (workers stopped)")
    print("\n| part | n | sum | median | in the workers (sum of run times) | workers / here |")
    print("|---|---|---|---|---|---|")
    by_kind: dict[str, float] = {}
    for job in result["jobs"]:
        by_kind[job["kind"]] = by_kind.get(job["kind"], 0) + job["run"]
    for kind, values in timings.items():
        total = sum(values)
        is_hash = kind.startswith(("hash", "sha"))
        extra = f" ({size_bytes / total / 1e6:.0f} MB/s)" if is_hash else ""
        there = by_kind.get(kind)
        ratio = f"{there / total:.2f}" if there else ""
        there_text = f"{there:.3f} s" if there else ""
        print(
            f"| {kind} | {len(values)} | {total:.3f} s{extra} | "
            f"{statistics.median(values) * 1000:.0f} ms | {there_text} | {ratio} |"
        )
    parts = {k: v for k, v in timings.items() if k in by_kind}
    sequential = sum(sum(v) for v in parts.values())
    longest = max(max(v) for v in parts.values())
    bound = max(longest, sequential / 2)
    total = result["total"]
    print(
        f"\nsequential sum of the parts: {sequential:.3f} s; longest single job: "
        f"{longest:.3f} s; two-worker bound max(longest, sum / 2): {bound:.3f} s"
    )
    print(
        f"commit -> decision {total:.3f} s = {total / bound:.2f} x the two-worker bound, "
        f"{total / sequential:.2f} x the sequential sum"
    )
    print(f"\nwarm-up (tiny file) commit -> decision: {warm_result['total']:.3f} s")
    print(
        f"before the commit (form, image re-encoding, move into storage, rows): "
        f"{before:.3f} s; writing the {size_bytes / 1024**3:.2f} GiB file with fsync "
        f"(not counted): {write_seconds:.1f} s; page cache: {'cold' if cold else 'warm'}"
    )
    print(
        "model load per pool process at worker start (not counted): "
        + ", ".join(f"{e['node']} {e['ms']:.0f} ms" for e in loads)
    )
    print(
        f"{os.cpu_count()} CPUs; load average before the run {load[0]:.2f}, "
        f"{load[1]:.2f}, {load[2]:.2f}"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker_main(sys.argv[2:])
    else:
        main()
