from __future__ import annotations

import os

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


def require_services(*, postgres: bool = True, redis: bool = True) -> None:
    """Skip (with the reason) when a real service is missing; under CI, fail instead."""
    missing = []
    if postgres and connection.vendor != "postgresql":
        missing.append("PostgreSQL (set DATABASE_URL=postgres://...)")
    if redis and not settings.REDIS_URL:
        missing.append("Redis (set REDIS_URL=redis://...)")
    if missing:
        message = "needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but this test {message}")
        pytest.skip(message)
