from __future__ import annotations

import os
import resource
import shutil
import signal
import socket

import pytest
from django.conf import settings
from django.db import connection

from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture
def owner(db):
    return UserFactory(username="owner")


@pytest.fixture
def stranger(db):
    return UserFactory(username="stranger")


@pytest.fixture
def staff(db):
    return UserFactory(username="staff", is_staff=True)


@pytest.fixture
def client_for(client):
    """client_for(user) -> a test client signed in as `user` (None: anonymous)."""
    from django.test import Client

    def make(user):
        c = Client()
        if user is not None:
            c.force_login(user)
        return c

    return make


@pytest.fixture
def disk_that_fills_at():
    """Writes past `limit` bytes into any file fail with EFBIG, as on a full disk: the kernel's
    file size limit, with SIGXFSZ ignored so that the write fails instead of killing us."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    def fill_at(limit: int) -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))

    yield fill_at
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    signal.signal(signal.SIGXFSZ, previous)


IN_CI = bool(os.environ.get("CI"))
# The reason of each requirement mark that is not met here, and what is missing.
_UNMET: dict[str, str] = {}


def requires(available: bool, what: str, how: str) -> pytest.MarkDecorator:
    """A declarative skip: without `what` a developer's `make test` skips the test with the
    reason; under CI it is not skipped, and pytest_runtest_setup fails it instead."""
    reason = f"needs {what} ({how})"
    if not available:
        _UNMET[reason] = what
    return pytest.mark.skipif(not available and not IN_CI, reason=reason)


needs_postgres = requires(
    connection.vendor == "postgresql", "PostgreSQL", "set DATABASE_URL=postgres://..."
)
needs_redis = requires(bool(settings.REDIS_URL), "Redis", "set REDIS_URL=redis://...")
needs_curl = requires(shutil.which("curl") is not None, "curl", "apt-get install curl")
needs_wget = requires(shutil.which("wget") is not None, "wget", "apt-get install wget")
needs_chromium = requires(
    shutil.which("chromium") is not None, "Debian's chromium", "apt-get install chromium"
)
# makemessages runs all four of GNU gettext's tools.
needs_gettext = requires(
    all(shutil.which(tool) for tool in ("xgettext", "msguniq", "msgmerge", "msgattrib")),
    "GNU gettext",
    "apt-get install gettext",
)


def pytest_runtest_setup(item) -> None:
    missing = [
        _UNMET[m.kwargs["reason"]]
        for m in item.iter_markers("skipif")
        if m.kwargs.get("reason") in _UNMET
    ]
    if missing and IN_CI:
        pytest.fail(f"CI is set but {' and '.join(missing)} is not available")


@pytest.fixture
def on_disk(settings):
    """on_disk(model_file, content): put a factory-made file's bytes where storage reads them."""

    def write(model_file, content: bytes) -> None:
        path = settings.MEDIA_ROOT / model_file.file.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    return write


@pytest.fixture
def memory_cache(settings):
    """A fresh memory cache, whatever the run's CACHES (Redis in CI)."""
    from django.core.cache import cache

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def kept(settings, memory_cache):
    """Lists keep what they may for a minute (tests/settings.py turns it off)."""
    settings.HUB_LIST_CACHE_SECONDS = 60


@pytest.fixture
def redis_down(settings):
    """The cache is a real Redis client pointed at a port where nothing listens, as when
    Redis is down."""
    from django.core.cache import caches

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]  # free once closed: nothing listens there
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{dead_port}/0",
        }
    }
    yield
    caches["default"].close()


# A real Celery worker process (tests/workers.py), for integration tests and browser journeys.
from tests.workers import worker  # noqa: E402, F401
