"""config.postgresql: Django's backend with timestamps parsed by psycopg's C loader. A
datetime reads back as the same instant, in the connection's time zone, as with Django's
own loader."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection
from psycopg.types.datetime import TimestamptzLoader

from config.postgresql.base import FASTEST_TIMESTAMPTZ_LOADER, TIMESTAMPTZ_OID
from models_hub.models import Model
from tests.conftest import needs_postgres
from tests.factories import published_model

pytestmark = [pytest.mark.django_db, needs_postgres]


def test_the_connection_parses_timestamps_with_the_fastest_loader():
    assert FASTEST_TIMESTAMPTZ_LOADER is not TimestamptzLoader, "psycopg's C build is missing"
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, 0)
    assert loader.__name__ == "FastTzLoader"
    # Django compares this before each cursor; a mismatch would put its slow loader back.
    assert loader.timezone == connection.timezone
    with connection.cursor() as cursor:
        assert cursor.cursor.adapters.get_loader(TIMESTAMPTZ_OID, 0) is loader


@pytest.mark.parametrize("offset_hours", [0, 9, -7.5])
def test_a_datetime_reads_back_as_the_same_instant_in_the_connections_zone(offset_hours):
    zone = timezone(timedelta(hours=offset_hours))
    moment = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=zone)
    model = published_model()
    Model.objects.filter(pk=model.pk).update(published_at=moment)
    read = Model.objects.values_list("published_at", flat=True).get(pk=model.pk)
    assert read == moment and read.tzinfo is connection.timezone
    assert read.utcoffset() == timedelta(0)
    with connection.cursor() as cursor:  # raw SQL too, and a date far from today
        cursor.execute("SELECT '0001-01-01 00:00:00+00'::timestamptz, NULL::timestamptz")
        early, nothing = cursor.fetchone()
    assert early == datetime(1, 1, 1, tzinfo=UTC) and nothing is None
