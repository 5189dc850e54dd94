"""Rows into one table: COPY FROM STDIN on PostgreSQL, batched INSERTs elsewhere."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

import numpy as np
from django.db import connection, models

from models_hub.seed_large.plan import SeedRefused

BATCH = 2_000  # rows per executemany on the slow path


class Loader:
    def __init__(self) -> None:
        self.postgres = connection.vendor == "postgresql"

    def write(self, model: type[models.Model], columns: Sequence[str], rows: Iterable) -> int:
        """Write `rows` (tuples in the order of `columns`, JSON already serialised, as COPY
        wants it) and return how many there were. The caller holds the transaction."""
        known = {f.column for f in model._meta.concrete_fields}
        if set(columns) != known:
            # COPY applies no Django default: every column must be spelled out here.
            raise SeedRefused(
                f"seed_large does not know the columns {sorted(known ^ set(columns))} of "
                f"{model._meta.db_table}: the schema changed; teach models_hub/seed_large/rows.py."
            )
        qn = connection.ops.quote_name
        table, names = qn(model._meta.db_table), ", ".join(qn(c) for c in columns)
        count = 0
        with connection.cursor() as cursor:
            if self.postgres:
                # Django's cursor wraps psycopg's, which speaks COPY.
                with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        count += 1
                return count
            sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"
            batch: list[tuple] = []
            for row in rows:
                batch.append(tuple(_plain(value) for value in row))
                if len(batch) >= BATCH:
                    cursor.executemany(sql, batch)
                    count += len(batch)
                    batch = []
            if batch:
                cursor.executemany(sql, batch)
                count += len(batch)
        return count


def _plain(value: object) -> object:
    """A value the database driver takes as it is (SQLite has no date or numpy types)."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.integer):
        return int(value)
    return value
