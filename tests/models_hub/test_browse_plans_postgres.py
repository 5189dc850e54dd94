"""Browse's plans on PostgreSQL: a member who has unpublished models of their own sees them
listed with everyone's published ones, and that list still walks an index in the sort's
order instead of sorting every model (migration 0016)."""

from __future__ import annotations

import pytest
from django.db import connection

from models_hub.choices import Status
from models_hub.selectors import BrowseFilters, browse_models
from tests.conftest import needs_postgres
from tests.factories import ModelFactory, UserFactory, published_model

pytestmark = [pytest.mark.django_db, needs_postgres]


def _plan(queryset) -> str:
    # A test database is too small for the planner to prefer an index on its own: forbid
    # the alternatives, so that a plan with no usable index shows as a Sort.
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_sort = off")
        try:
            return queryset.explain()
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_sort")


@pytest.mark.parametrize(
    ("sort", "index"),
    [("newest", "model_newest"), ("downloads", "model_downloads"), ("likes", "model_likes")],
)
def test_a_member_with_drafts_gets_their_list_by_walking_the_sorts_index(sort, index):
    member = UserFactory()
    draft = ModelFactory(owner=member, status=Status.DRAFT)
    others = [published_model() for _ in range(3)]
    listed = browse_models(member, BrowseFilters(sort=sort))
    assert draft in listed and set(others) <= set(listed)
    plan = _plan(listed.all()[:24])
    assert index in plan and "Sort" not in plan, plan
