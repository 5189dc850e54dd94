from __future__ import annotations

import os
import resource
import signal

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


HAVE_POSTGRES = connection.vendor == "postgresql"
HAVE_REDIS = bool(settings.REDIS_URL)
IN_CI = bool(os.environ.get("CI"))

# Declarative skips: without the service a developer's `make test` skips these with the
# reason; under CI they are not skipped, and pytest_runtest_setup fails them instead.
needs_postgres = pytest.mark.skipif(
    not HAVE_POSTGRES and not IN_CI, reason="needs PostgreSQL (set DATABASE_URL=postgres://...)"
)
needs_redis = pytest.mark.skipif(
    not HAVE_REDIS and not IN_CI, reason="needs Redis (set REDIS_URL=redis://...)"
)


def pytest_runtest_setup(item) -> None:
    missing = []
    if not HAVE_POSTGRES and _has_mark(item, needs_postgres):
        missing.append("PostgreSQL (DATABASE_URL)")
    if not HAVE_REDIS and _has_mark(item, needs_redis):
        missing.append("Redis (REDIS_URL)")
    if missing and IN_CI:
        pytest.fail(f"CI is set but {' and '.join(missing)} is not configured")


def _has_mark(item, mark) -> bool:
    wanted = mark.mark.kwargs.get("reason")
    return any(m.name == "skipif" and m.kwargs.get("reason") == wanted
               for m in item.iter_markers())  # fmt: skip


@pytest.fixture
def on_disk(settings):
    """on_disk(model_file, content): put a factory-made file's bytes where storage reads them."""

    def write(model_file, content: bytes) -> None:
        path = settings.MEDIA_ROOT / model_file.file.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    return write
