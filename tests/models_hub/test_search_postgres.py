"""Full-text search on PostgreSQL: the query uses the stored vector and its GIN index (migration
0015)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection

from models_hub.models import Model
from models_hub.selectors import SEARCH_ORDER, BrowseFilters, browse_models, search_models
from models_hub.services import model_refresh_search_document
from tests.conftest import needs_postgres
from tests.factories import published_model

pytestmark = [pytest.mark.django_db, needs_postgres]


def test_search_query_uses_the_gin_index():
    for n in range(30):
        model = published_model(name=f"Model number {n}")
        model_refresh_search_document(model=model)
    # The expression the search filters on must be the indexed one, or the index is unused.
    queryset = search_models(Model.objects.only("pk"), "number")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            plan = queryset.explain()
        finally:
            cursor.execute("SET enable_seqscan = on")
    assert "models_hub_model_search_vector" in plan, plan
    # Ranking reads the stored vector; it does not compute one per matching row again.
    ranked = search_models(Model.objects.only("pk"), "number").order_by("-search_rank")
    assert "to_tsvector" not in ranked.explain()


def test_the_stored_vector_follows_the_document_and_plain_reads_skip_it():
    model = published_model(name="Lighthouse at dusk")
    model_refresh_search_document(model=model)
    assert list(search_models(Model.objects.all(), "lighthouse")) == [model]
    model.name = "Harbour at dawn"
    model.save()
    model_refresh_search_document(model=model)
    assert list(search_models(Model.objects.all(), "lighthouse")) == []
    assert list(search_models(Model.objects.all(), "harbour")) == [model]
    # The vector is not a model field: lists and pages do not carry it.
    assert "search_vector" not in str(Model.objects.all().query)


def test_websearch_syntax_and_ranking():
    strong = published_model(name="Watercolor watercolor landscapes")
    weak = published_model(name="Landscapes", description="a hint of watercolor")
    excluded = published_model(name="Watercolor portraits")
    for model in (strong, weak, excluded):
        model_refresh_search_document(model=model)

    def search(text: str) -> list[int]:
        filters = BrowseFilters(query=text, sort="relevance")
        return [m.pk for m in browse_models(AnonymousUser(), filters)]

    ranked = search("watercolor")
    assert sorted(ranked) == sorted([strong.pk, weak.pk, excluded.pk])
    assert ranked[0] == strong.pk  # the word twice, in the name, ranks first
    assert sorted(search("watercolor -portraits")) == sorted([strong.pk, weak.pk])
    # Punctuation and unbalanced quotes from people's typing are not errors.
    assert search('"water & | !') == []


def test_ranked_by_relevance_within_bands_of_downloads():
    def searchable(name: str, downloads: int, description: str = "") -> Model:
        model = published_model(name=name, description=description)
        model_refresh_search_document(model=model)
        Model.objects.filter(pk=model.pk).update(download_count=downloads)
        return model

    # Bands are half an order of magnitude: 4 to 9 downloads share one, 32 to 99 another.
    strong_few = searchable("Watercolor watercolor landscapes", 4)
    weak_few = searchable("Landscapes", 9, description="a hint of watercolor")
    weak_many = searchable("Harbours", 40, description="a hint of watercolor")
    strong_many = searchable("Watercolor watercolor skies", 99)
    filters = BrowseFilters(query="watercolor", sort="relevance")
    ranked = [m.pk for m in browse_models(AnonymousUser(), filters)]
    # The better-known band first; within a band, the more relevant first, whatever the
    # exact counts (9 beats 4 and 40 beats 99 in downloads, not in relevance).
    assert ranked == [strong_many.pk, weak_many.pk, strong_few.pk, weak_few.pk]


def test_ranked_search_walks_the_bands_index():
    for n in range(30):
        model = published_model(name=f"Model number {n}")
        model_refresh_search_document(model=model)
    queryset = search_models(Model.objects.only("pk"), "number").order_by(*SEARCH_ORDER)[:24]
    # The ORDER BY must be the indexed expression, or a common word ranks every match.
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_bitmapscan = off")
        try:
            plan = queryset.explain()
        finally:
            cursor.execute("SET enable_seqscan = on")
            cursor.execute("SET enable_bitmapscan = on")
    assert "model_downloads_band" in plan, plan
