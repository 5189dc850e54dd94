"""Keyset (cursor) pagination: a page starts strictly after the sort values of one row, or
ends strictly before them, so page 2,000 costs what page 1 does. An OFFSET reads and drops
every row before it (browse's page 50 was 37 ms of SQL at 100,000 models).

An order is a tuple of field names, "-" for descending, whose last field is unique (the id),
so every row has exactly one position in it. A cursor is a position as URL-safe base64 JSON:
opaque to clients, but neither secret nor signed, so each value is checked against its field
and anything else is a BadCursor.

The filters also bound the first field (`published_at <= x AND (...)`): PostgreSQL then
starts reading the index at the position; with the OR alone it reads and drops every row
before it, as an OFFSET does.

NULL: SQL comparisons never match NULL, and PostgreSQL and SQLite put NULLs at opposite ends
of a sort. A field named in `nullable` is therefore ordered explicitly with NULL above every
value (first going down, last going up), and the filters treat NULL the same way. That is
PostgreSQL's own default, so its plain DESC indexes still serve the order. Without
`nullable` every value is taken to be non-null and a null in a cursor is refused (the API,
whose lists hold published models).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.paginator import Paginator
from django.db import connection, models
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import OrderBy

Order = tuple[str, ...]
NO_NULLS: frozenset[str] = frozenset()
# Ample for any order here (a date and an id take about 60 characters), and checked before
# decoding: deeply nested JSON would exhaust the parser's stack.
MAX_CURSOR_LENGTH = 500


class BadCursor(ValueError):
    """A cursor this server did not give out, or one for another order."""


def encode_cursor(values: list) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list:
    """The non-empty list encode_cursor made; BadCursor for anything else."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise BadCursor
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        values = None
    if not isinstance(values, list) or not values:
        raise BadCursor
    return values


def reverse(order: Order) -> Order:
    """The same order, backwards (what lies before a position in `order` lies after it here)."""
    return tuple(item[1:] if item.startswith("-") else f"-{item}" for item in order)


def ordering(order: Order, nullable: Collection[str] = NO_NULLS) -> list[str | OrderBy]:
    """`order` for QuerySet.order_by, with NULL above every value in the `nullable` fields."""
    by: list[str | OrderBy] = []
    for item in order:
        name = item.lstrip("-")
        if name not in nullable:
            by.append(item)
        elif item.startswith("-"):
            by.append(F(name).desc(nulls_first=True))
        else:
            by.append(F(name).asc(nulls_last=True))
    return by


def position(row: models.Model, order: Order) -> list:
    """The row's values for `order`, as a cursor holds them (dates in ISO 8601, NULL None)."""
    values = []
    for item in order:
        value = getattr(row, item.lstrip("-"))
        values.append(value.isoformat() if isinstance(value, datetime) else value)
    return values


def after(
    queryset: QuerySet, order: Order, values: list, nullable: Collection[str] = NO_NULLS
) -> QuerySet:
    """The rows of `queryset` strictly after the position `values` in `order`: for (a, b, id),
    a beyond its value, or a equal and b beyond, or both equal and id beyond. BadCursor when
    the values do not fit the order's fields (a None only fits a field in `nullable`)."""
    return _after(queryset, order, _parse(queryset, order, values, nullable), nullable)


def _after(queryset: QuerySet, order: Order, values: list, nullable: Collection[str]) -> QuerySet:
    names = [item.lstrip("-") for item in order]
    condition = Q()
    for i, item in enumerate(order):
        step = _beyond(names[i], values[i], item.startswith("-"), names[i] in nullable)
        if step is None:
            continue
        for name, value in zip(names[:i], values[:i], strict=True):
            step &= Q(**{f"{name}__isnull": True}) if value is None else Q(**{name: value})
        condition |= step
    if not condition:  # nothing lies beyond NULL going up a one-field order
        return queryset.none()
    # The same rows, bounded on the first field too (see the module's docstring).
    first = order[0]
    if values[0] is not None and (first.startswith("-") or names[0] not in nullable):
        lookup = "lte" if first.startswith("-") else "gte"
        condition = Q(**{f"{names[0]}__{lookup}": values[0]}) & condition
    return queryset.filter(condition)


def rows_after(
    queryset: QuerySet,
    order: Order,
    values: list,
    limit: int,
    nullable: Collection[str] = NO_NULLS,
) -> list:
    """The first `limit` rows strictly after `values` in `order`, ordered. One query, or two
    going up a nullable first field from a value: the rows with a value (read from the
    position on by the index), then, when those run out, the NULL ones, which come last."""
    values = _parse(queryset, order, values, nullable)
    name = order[0].lstrip("-")
    if order[0].startswith("-") or name not in nullable or values[0] is None:
        return list(
            _after(queryset.order_by(*ordering(order, nullable)), order, values, nullable)[:limit]
        )
    # Taken as non-null, the filters leave out the NULLs (SQL compares nothing with NULL).
    valued = set(nullable) - {name}
    rows = list(_after(queryset.order_by(*ordering(order, valued)), order, values, valued)[:limit])
    if len(rows) < limit:
        nulls = queryset.filter(**{f"{name}__isnull": True}).order_by(*ordering(order, nullable))
        rows += list(nulls[: limit - len(rows)])
    return rows


def _parse(queryset: QuerySet, order: Order, values: list, nullable: Collection[str]) -> list:
    if len(values) != len(order):
        raise BadCursor
    fields = [queryset.model._meta.get_field(item.lstrip("-")) for item in order]
    return [
        _cursor_value(field, value, field.name in nullable)
        for field, value in zip(fields, values, strict=True)
    ]


def _beyond(name: str, value, descending: bool, nullable: bool) -> Q | None:
    """Values of `name` past `value`, NULL counting as above every value; None for none."""
    if descending:
        return Q(**{f"{name}__isnull": False}) if value is None else Q(**{f"{name}__lt": value})
    if value is None:
        return None
    above = Q(**{f"{name}__gt": value})
    return above | Q(**{f"{name}__isnull": True}) if nullable else above


def _cursor_value(field: models.Field, value, nullable: bool):
    if value is None and nullable:
        return None
    if isinstance(field, models.DateTimeField):
        if isinstance(value, str):
            try:
                # In UTC now: a far date in a far zone fails here, not in the database driver.
                parsed = datetime.fromisoformat(value)
                if parsed.tzinfo is not None:
                    return parsed.astimezone(UTC)
            except (ValueError, OverflowError):
                pass
    elif isinstance(value, int) and not isinstance(value, bool):
        # Out of the column's range it was never a row's value (and in a lookup Django would
        # quietly make it "every row" or "none").
        if isinstance(field, models.IntegerField):
            low, high = connection.ops.integer_field_range(field.get_internal_type())
            if (low is not None and value < low) or (high is not None and value > high):
                raise BadCursor
        return value
    raise BadCursor


# --- Pages of an HTML list -------------------------------------------------------------------


@dataclass
class KeysetPage:
    """One page of a list, with what the pager shows: `number` labels it ("Page 3 of 40": a
    page reached by cursor was counted by the links that led to it), and `next_cursor` and
    `previous_cursor` lead to the pages either side ("" where a page number links instead).
    """

    object_list: list
    number: int
    paginator: Paginator
    has_next: bool
    has_previous: bool
    next_cursor: str = ""
    previous_cursor: str = ""

    @property
    def num_pages(self) -> int:
        # The count is cached a minute: never say "Page 5 of 4" meanwhile.
        return max(self.paginator.num_pages, self.number + self.has_next)

    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return max(self.number - 1, 1)


def keyset_page(
    queryset: QuerySet,
    order: Order | None,
    *,
    per_page: int,
    number: str | None,
    after_cursor: str | None = None,
    before_cursor: str | None = None,
    nullable: Collection[str] = NO_NULLS,
    paginator_class: type[Paginator] = Paginator,
) -> KeysetPage:
    """The page of `queryset` (sorted here by `order`) after `after_cursor` or before
    `before_cursor`; without either, page `number` by offset (a typed `?page=N`), as
    Paginator.get_page finds it. A cursor that is not one of ours, or past either end of the
    list, gives page 1: the visitor followed a link, an error page would help nobody.

    `order` None: the queryset keeps its own order (a computed one such as a search rank,
    which has no keyset) and pages go by number only.

    Queries: the count (from paginator_class), then one for the rows (and their prefetches),
    whichever way the page was reached; going back to the top of a list whose first field
    is nullable, one more for the NULL rows and one for their prefetches (rows_after).
    """
    if order is not None:
        queryset = queryset.order_by(*ordering(order, nullable))
    paginator = paginator_class(queryset, per_page)
    cursor = after_cursor or before_cursor
    if order is not None and cursor:
        forward = bool(after_cursor)
        way = order if forward else reverse(order)
        try:
            start = decode_cursor(cursor)
            rows = rows_after(queryset, way, start, per_page + 1, nullable)
        except BadCursor:
            rows = []
        if rows:
            more = len(rows) > per_page
            rows = rows[:per_page]
            if not forward:
                rows.reverse()
            return _page_between(
                rows,
                order,
                paginator,
                label=_label(number, paginator),
                has_next=more or not forward,
                has_previous=more or forward,
            )
        number = "1"
    page = paginator.get_page(number)
    rows = list(page.object_list)
    if order is None:
        return KeysetPage(rows, page.number, paginator, page.has_next(), page.has_previous())
    return _page_between(
        rows,
        order,
        paginator,
        label=page.number,
        has_next=page.has_next(),
        has_previous=page.has_previous(),
    )


def _page_between(
    rows: list,
    order: Order,
    paginator: Paginator,
    *,
    label: int,
    has_next: bool,
    has_previous: bool,
) -> KeysetPage:
    if not has_previous:
        label = 1
    page = KeysetPage(rows, label, paginator, has_next, has_previous)
    if has_next and rows:
        page.next_cursor = encode_cursor(position(rows[-1], order))
    # Page 1 is linked by number: one address for it, however it was reached.
    if has_previous and rows and label > 2:
        page.previous_cursor = encode_cursor(position(rows[0], order))
    return page


def _label(number: str | None, paginator: Paginator) -> int:
    """The page number a cursor link carried (only a label: the cursor chose the rows)."""
    try:
        label = int(number or "")
    except ValueError:
        label = 2
    return max(2, min(label, paginator.num_pages))
