"""Django's PostgreSQL backend, with timestamps read by psycopg's C code.

Django registers its own loader for `timestamptz` (to give every datetime the connection's
time zone), and that loader subclasses psycopg's pure-Python one: each timestamp read was
parsed in Python even with psycopg's C build installed (Django ticket #36960). The API's page
of 100 models reads about 8,000 of them (docs/PERFORMANCE.md). This backend's loader parses
with the C loader and then does what Django's does: set the connection's time zone.
"""

from __future__ import annotations

from django.db.backends.postgresql import base
from psycopg import adapters
from psycopg.pq import Format
from psycopg.types.datetime import TimestamptzLoader

TIMESTAMPTZ_OID = adapters.types["timestamptz"].oid
# psycopg's global map holds its fastest loader: the C one when the C build is installed.
FASTEST_TIMESTAMPTZ_LOADER = adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)


def fast_tz_loader(zone):
    """A loader Django takes for its own (it compares `timezone` before each cursor and
    registers its slow one again on a mismatch), parsing with the fastest loader."""

    class FastTzLoader(TimestamptzLoader):
        timezone = zone

        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            self._parse = FASTEST_TIMESTAMPTZ_LOADER(oid, context).load

        def load(self, data):
            # As Django's loader: the session's time zone is the connection's (UTC), and
            # the value keeps its instant with the connection's tzinfo object.
            return self._parse(data).replace(tzinfo=self.timezone)

    return FastTzLoader


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        if FASTEST_TIMESTAMPTZ_LOADER is not TimestamptzLoader:
            connection.adapters.register_loader("timestamptz", fast_tz_loader(self.timezone))
        return connection
