"""Totals and popular tags kept for HUB_LIST_CACHE_SECONDS: one query fewer per list, the
same figure for the same filter, its own figure for another filter or person."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from models_hub.choices import ModelType
from models_hub.list_cache import cached_count
from models_hub.models import Model, Tag
from tests.factories import UserFactory, published_model

pytestmark = pytest.mark.django_db


def _total(response) -> int:
    return response.context["page"].paginator.count


def _queries(client, path):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return response, len(ctx.captured_queries)


def test_the_browse_total_and_tags_are_computed_once_a_minute(kept):
    client = Client()
    for _ in range(2):
        published_model(type=ModelType.LORA)
    first, cold = _queries(client, "/")
    second, warm = _queries(client, "/")
    assert _total(first) == _total(second) == 2
    assert warm == cold - 2, (cold, warm)  # no COUNT, no tag ranking
    published_model(type=ModelType.CHECKPOINT)
    assert _total(client.get("/")) == 2  # a minute old, as public caches serve it anyway
    # Another filter is another list, with its own figure.
    assert _total(client.get("/?type=Checkpoint")) == 1
    cache.clear()
    assert _total(client.get("/")) == 3


def test_a_member_with_drafts_has_their_own_total(kept):
    owner = UserFactory()
    published_model()
    draft = published_model(owner=owner)
    Model.objects.filter(pk=draft.pk).update(status="draft")
    assert _total(Client().get("/")) == 1
    member = Client()
    member.force_login(owner)
    assert _total(member.get("/")) == 2  # their draft is listed for them


def test_the_api_total_is_kept_too(kept):
    published_model()
    assert Client().get("/api/v1/models?page=1").json()["metadata"]["totalItems"] == 1
    published_model()
    assert Client().get("/api/v1/models?page=1").json()["metadata"]["totalItems"] == 1
    assert Client().get("/api/v1/models?page=1&sort=Newest").json()["metadata"]["totalItems"] == 2


def test_without_the_cache_lists_still_count(settings, redis_down, caplog):
    settings.HUB_LIST_CACHE_SECONDS = 60
    published_model()
    assert cached_count(Model.objects.all()) == 1
    assert "List cache unreachable" in caplog.text


def test_a_filter_that_matches_nothing_counts_zero(kept):
    assert cached_count(Model.objects.none()) == 0


@pytest.mark.parametrize("path", ["/api/v1/tags", "/api/v1/creators"])
def test_a_directory_page_is_kept_under_its_address(kept, path):
    def model_tagged(owner: str, tag: str) -> None:
        model = published_model(owner=UserFactory(username=owner))
        model.tags.add(Tag.objects.create(name=tag))

    model_tagged("first", "alpha")
    client = Client()
    first, queries = _queries(client, f"{path}?limit=5")
    assert queries >= 1
    model_tagged("second", "beta")
    again, queries = _queries(client, f"{path}?limit=5")
    assert queries == 0 and again.json() == first.json()
    other, queries = _queries(client, f"{path}?limit=6")
    assert queries >= 1 and len(other.json()["items"]) == len(first.json()["items"]) + 1
