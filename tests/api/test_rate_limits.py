"""API rate limits: per key, and per address without a key; a 429 with Retry-After and a
JSON error past them, on the v1 API and on downloads alike. Counted in the cache (Redis when
REDIS_URL is set, as in CI)."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from community.api_keys import api_key_create
from tests.factories import UserFactory, published_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def address():
    # A fresh caller each test: the count lives in a shared cache for a whole minute.
    return f"198.51.100.{uuid.uuid4().int % 250 + 1}-{uuid.uuid4().hex[:8]}"


def test_an_address_without_a_key_gets_a_429_with_retry_after_past_its_limit(settings, address):
    settings.HUB_API_REQUESTS_PER_MINUTE_PER_ADDRESS = 3
    client = Client(REMOTE_ADDR=address)
    assert [client.get("/api/v1/models").status_code for _ in range(3)] == [200] * 3
    refused = client.get("/api/v1/tags")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "throttled" in refused.json()["error"]
    # Another address is counted on its own.
    assert Client(REMOTE_ADDR=address + "x").get("/api/v1/models").status_code == 200


def test_a_key_has_its_own_limit_whatever_address_it_calls_from(settings, address):
    settings.HUB_API_REQUESTS_PER_MINUTE_PER_KEY = 2
    settings.HUB_API_REQUESTS_PER_MINUTE_PER_ADDRESS = 1_000
    _, key = api_key_create(user=UserFactory(), name="tool", scopes=["read", "download"])
    version = published_model().versions.get()
    first = Client(REMOTE_ADDR=address).get("/api/v1/models", HTTP_AUTHORIZATION=f"Bearer {key}")
    second = Client(REMOTE_ADDR=address + "b").get(
        f"/api/v1/model-versions/{version.pk}?token={key}"
    )
    assert (first.status_code, second.status_code) == (200, 200)
    # Downloads count against the same key.
    refused = Client(REMOTE_ADDR=address + "c").get(
        f"/api/download/models/{version.pk}?token={key}"
    )
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert refused.json()["error"].startswith("Too many requests")
    # Without the key, the address's own (larger) allowance still applies.
    assert Client(REMOTE_ADDR=address).get("/api/v1/models").status_code == 200


def test_with_redis_unreachable_the_api_and_downloads_still_answer(
    settings, address, redis_down, caplog
):
    settings.HUB_API_REQUESTS_PER_MINUTE_PER_ADDRESS = 1
    settings.HUB_DOWNLOAD_ACCEL_PREFIX = "/internal/"  # the proxy sends the bytes
    client = Client(REMOTE_ADDR=address)
    version = published_model().versions.get()
    assert [client.get("/api/v1/models").status_code for _ in range(3)] == [200] * 3
    download = client.get(f"/api/download/models/{version.pk}")
    assert download.status_code == 200 and download["X-Accel-Redirect"].startswith("/internal/")
    assert "the cache is unreachable" in caplog.text
