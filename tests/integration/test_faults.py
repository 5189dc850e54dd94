"""Faults a real deployment meets, against a real Celery worker process, PostgreSQL and a
Redis of the test's own (so that shutting it down touches nothing else on the machine):

- a worker child SIGKILLed mid-check: every check still completes, once;
- `redis-cli shutdown nosave` with checks queued: the sweeper sends them all again;
- Redis down while an upload is made: the upload succeeds, the checks run once it is back;
- the same task delivered twice: its side effects happen once;
- PostgreSQL dropping the worker's connections mid-check (what a restart does to its
  clients): the checks are retried and finish, with no half-written rows;
- a job that runs past the time limit ends as ERROR with the reason.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from config.celery import app as celery_app
from models_hub import tasks as hub_tasks
from models_hub.choices import JobStatus, Status
from models_hub.demo import make_image
from models_hub.models import ModelFile, ModelVersion
from moderation import tasks as check_tasks
from moderation.models import CheckRun
from tests.conftest import needs_postgres, needs_redis
from tests.factories import FileFactory, VersionFactory, form_data
from tests.workers import PROJECT_ROOT, _database_url, _wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    needs_postgres,
    needs_redis,  # the redis-server binary comes with the Redis these tests also need
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnRedis:
    """A redis-server on a free port that keeps nothing on disk."""

    def __init__(self, workdir: Path):
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.cli("ping").strip() == "PONG":
                return
            time.sleep(0.1)
        raise AssertionError("redis-server did not start")

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True
        )
        return result.stdout

    def shutdown_nosave(self) -> None:
        self.cli("shutdown", "nosave")
        assert self.process is not None
        self.process.wait(timeout=10)


def _send_messages_to(url: str) -> None:
    # Celery caches its connection and producer pools; new ones follow the new URL.
    celery_app.conf.broker_url = url
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def redis(tmp_path):
    server = OwnRedis(tmp_path)
    server.start()
    # This process sends its messages to that Redis too.
    old_url = celery_app.conf.broker_url
    _send_messages_to(server.url)
    celery_app.conf.task_always_eager = False
    yield server
    _send_messages_to(old_url)
    celery_app.conf.task_always_eager = True
    if server.process and server.process.poll() is None:
        server.shutdown_nosave()


class Worker:
    def __init__(self, tmp_path: Path, settings, redis_url: str):
        self.log_path = tmp_path / "worker.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECRET_KEY": "integration-test",
            "DATABASE_URL": _database_url(),
            "DATABASE_CONN_MAX_AGE": "0",
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "VAR_DIR": str(tmp_path / "worker-var"),
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "PYTHONUNBUFFERED": "1",  # the tests read its log while it runs
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the worker's life
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker",
             "--queues", "scan,images,default", "--concurrency", "2", "--pool", "prefork",
             "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
            cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def children(self) -> list[int]:
        assert self.process is not None
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True
        ).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def worker(tmp_path, settings, redis):
    worker = Worker(tmp_path, settings, redis.url)
    yield worker
    worker.stop()


def _upload(client, owner, *, images: int) -> ModelVersion:
    client.force_login(owner)
    response = client.post(
        "/upload/",
        form_data(
            name=f"Fault test {time.monotonic_ns()}",
            images=[
                SimpleUploadedFile(f"{i}.png", make_image(seed=i, size=(1024, 1024)))
                for i in range(images)
            ],
        ),
    )
    assert response.status_code == 302, response.content[:2000]
    return ModelVersion.objects.latest("id")


def _all_checks_done(version: ModelVersion):
    def done() -> bool:
        states = set(CheckRun.objects.filter(version=version).values_list("state", flat=True))
        return states == {JobStatus.DONE}

    return done


def _published(version: ModelVersion):
    return lambda: ModelVersion.objects.get(pk=version.pk).status == Status.PUBLISHED


def test_a_worker_child_killed_mid_check_still_completes_every_check_once(worker, client, owner):
    version = _upload(client, owner, images=12)
    worker.start()
    deadline = time.monotonic() + 60
    killed = None
    while time.monotonic() < deadline and killed is None:
        running = CheckRun.objects.filter(version=version, state=JobStatus.RUNNING)
        if running.filter(kind__in=["nsfw", "likeness"]).exists() and worker.children():
            # Both pool children: whichever holds the running check is cut off mid-check.
            killed = worker.children()
            for pid in killed:
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    assert killed, "no check was ever seen running"
    _wait_for(_all_checks_done(version), 120, worker.log_path)
    _wait_for(_published(version), 30, worker.log_path)
    runs = CheckRun.objects.filter(version=version)
    assert runs.count() == 2 + 2 * 12
    # The killed check was redelivered (acks_late, reject_on_worker_lost) and taken back by
    # the same task id; no check ran more than twice, and each stored one result.
    assert max(runs.values_list("attempts", flat=True)) <= 2
    assert all(run.finished_at and run.result is not None for run in runs)
    # Checks really were cut off, and only those ran a second time.
    _wait_for(lambda: "WorkerLostError" in worker.log_path.read_text(), 10, worker.log_path)
    assert 1 <= runs.filter(attempts=2).count() <= len(killed)


def _drop_other_connections() -> int:
    """Terminate every other backend on the test database: what PostgreSQL does to each client
    when it restarts (a fast shutdown terminates them with the same message)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_a_database_restart_mid_check_is_retried_and_leaves_no_half_written_rows(
    worker, client, owner
):
    version = _upload(client, owner, images=12)
    worker.start()
    deadline = time.monotonic() + 60
    dropped = 0
    while time.monotonic() < deadline and dropped == 0:
        running = CheckRun.objects.filter(version=version, state=JobStatus.RUNNING)
        if running.filter(kind__in=["nsfw", "likeness"]).exists():
            dropped = _drop_other_connections()
        time.sleep(0.02)
    assert dropped, "no check was ever seen running with a database connection"
    _wait_for(_all_checks_done(version), 120, worker.log_path)
    _wait_for(_published(version), 30, worker.log_path)
    # The worker met the dead connection and retried (the same task id took its row back).
    log = worker.log_path.read_text()
    assert "retry: Retry in" in log and "OperationalError" in log, log[-3000:]
    runs = CheckRun.objects.filter(version=version)
    assert runs.count() == 2 + 2 * 12
    assert all(run.finished_at and run.result is not None and not run.error for run in runs)
    assert max(runs.values_list("attempts", flat=True)) <= 2


def test_a_hash_that_runs_past_the_time_limit_ends_as_error_with_the_reason(
    redis, tmp_path, settings
):
    worker = Worker(tmp_path, settings, redis.url)
    version = VersionFactory(status=Status.IN_REVIEW, publish_requested=True)
    model_file = FileFactory(version=version, hash_status=JobStatus.PENDING, sha256="",
                             file="models/00/huge.safetensors")  # fmt: skip
    huge = Path(settings.MEDIA_ROOT) / model_file.file.name
    huge.parent.mkdir(parents=True)
    with open(huge, "wb") as sparse:
        sparse.truncate(16 * 1024**3)  # takes no disk, and far more than a second to hash
    try:
        worker.start()
        # Time limits travel in the message: the sender's CELERY_TASK_SOFT_TIME_LIMIT.
        hub_tasks.hash_model_file.apply_async((model_file.pk,), soft_time_limit=1)

        def given_up() -> bool:
            return ModelFile.objects.get(pk=model_file.pk).hash_status == JobStatus.ERROR

        _wait_for(given_up, 60, worker.log_path)
    finally:
        worker.stop()
    model_file.refresh_from_db()
    assert model_file.hash_error == ("Could not hash the file: it ran past its time limit")
    version.refresh_from_db()
    assert version.decision == "hold" and "time limit" in version.hold_reason


def test_the_sweeper_recovers_checks_lost_when_redis_restarts_empty(
    worker, redis, client, owner, settings
):
    version = _upload(client, owner, images=2)
    queued = int(redis.cli("llen", "images").strip() or 0) + int(
        redis.cli("llen", "default").strip() or 0
    )
    assert queued >= 4, "the checks should be waiting in Redis"
    redis.shutdown_nosave()
    redis.start()
    assert redis.cli("dbsize").strip() == "0", "Redis came back empty"
    worker.start()
    time.sleep(3)
    assert CheckRun.objects.filter(version=version, state=JobStatus.PENDING).count() == 6
    settings.HUB_SWEEP_PENDING_AFTER = 0
    swept = check_tasks.sweep_stuck_work.apply().get()
    assert swept >= 6
    _wait_for(_all_checks_done(version), 90, worker.log_path)
    _wait_for(_published(version), 30, worker.log_path)


def test_an_upload_while_redis_is_down_succeeds_and_is_checked_when_it_returns(
    worker, redis, client, owner, settings
):
    redis.shutdown_nosave()
    started = time.monotonic()
    version = _upload(client, owner, images=1)
    assert time.monotonic() - started < 30
    assert version.status == Status.IN_REVIEW
    assert set(CheckRun.objects.filter(version=version).values_list("state", flat=True)) == {
        JobStatus.PENDING
    }
    redis.start()
    worker.start()
    settings.HUB_SWEEP_PENDING_AFTER = 0
    check_tasks.sweep_stuck_work.apply().get()
    _wait_for(_all_checks_done(version), 90, worker.log_path)
    _wait_for(_published(version), 30, worker.log_path)


def test_the_same_check_delivered_twice_runs_once(worker, client, owner):
    version = _upload(client, owner, images=1)
    worker.start()
    _wait_for(_all_checks_done(version), 90, worker.log_path)
    run = CheckRun.objects.get(version=version, kind="license")
    finished_at = run.finished_at
    for _ in range(2):
        check_tasks.run_check.apply_async((run.pk,), queue="default")

    def succeeded() -> int:
        lines = worker.log_path.read_text().splitlines()
        return sum("moderation.run_check" in line and "succeeded" in line for line in lines)

    _wait_for(lambda: succeeded() >= 4 + 2, 30, worker.log_path)
    run.refresh_from_db()
    assert run.attempts == 1 and run.finished_at == finished_at


class _CreatesCanary:
    """Unpickling this creates a file: what a forged message would do to a pickle consumer."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_forged_pickle_message_is_refused_and_never_loaded(worker, redis, tmp_path):
    from kombu import Connection, Exchange, Producer, Queue

    canary = tmp_path / "canary"
    worker.start()
    with Connection(redis.url) as connection:
        producer = Producer(connection)
        producer.publish(
            {"args": [_CreatesCanary(str(canary))], "kwargs": {}},
            serializer="pickle",
            exchange=Exchange("default", type="direct"),
            routing_key="default",
            declare=[Queue("default", Exchange("default", type="direct"), "default")],
            headers={"task": "moderation.run_check", "id": "forged-1", "lang": "py"},
        )
    _wait_for(
        lambda: (
            "ContentDisallowed" in worker.log_path.read_text()
            or "disallowed" in worker.log_path.read_text().lower()
        ),
        30,
        worker.log_path,
    )
    assert not canary.exists()
    assert worker.process is not None and worker.process.poll() is None
