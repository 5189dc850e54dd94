"""Civitai's two kinds of pagination, with its `metadata` block.

- Page-based (`page`, `limit`): `totalItems`, `currentPage`, `pageSize`, `totalPages`, and
  `nextPage`/`prevPage` as full URLs. Costs a COUNT.
- Cursor-based (`cursor`, `limit`): `nextCursor` and `nextPage`. The cursor is a keyset
  position (the last row's sort values; models_hub/keyset.py), so page 1,000 costs what
  page 1 does; a ranked text search, whose order is computed, carries an offset instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db.models import QuerySet
from rest_framework.request import Request

from models_hub import keyset
from models_hub.api.params import ApiParams, bad_cursor
from models_hub.list_cache import cached_count

MAX_PAGE = 10_000
MAX_OFFSET = 10_000


@dataclass(frozen=True)
class Limits:
    default: int
    high: int
    low: int = 1


def _after(queryset: QuerySet, order: tuple[str, ...], values: list) -> QuerySet:
    """Rows strictly after `values` in `order` (every field not null, the last unique)."""
    try:
        return keyset.after(queryset, order, values)
    except keyset.BadCursor:
        raise bad_cursor() from None


def _decode_cursor(cursor: str) -> list:
    """What encode_cursor made, or a 400: a cursor is only ever one this server handed out."""
    try:
        return keyset.decode_cursor(cursor)
    except keyset.BadCursor:
        raise bad_cursor() from None


def _url(request: Request, **changes) -> str:
    params = request.query_params.copy()
    for key in ("page", "cursor"):
        params.pop(key, None)
    for key, value in changes.items():
        params[key] = str(value)
    return request.build_absolute_uri(request.path) + "?" + params.urlencode()


def paginate(
    request: Request,
    queryset: QuerySet,
    order: tuple[str, ...] | None,
    limits: Limits,
    *,
    pages_by_default: bool,
) -> tuple[list, dict]:
    """One page of `queryset` and its metadata. `order` is the keyset (fields ending in a
    unique one), or None when the order is computed and the cursor is an offset."""
    params = ApiParams(request.query_params)
    limit = params.number(("limit", "pageSize"), limits.default, limits.low, limits.high)
    limit = limit or limits.default  # Civitai's images take 0 for "the default"
    cursor = params.raw("cursor")
    if params.raw("page") or (pages_by_default and not cursor):
        page = params.number(("page",), 1, 1, MAX_PAGE)
        total = cached_count(queryset)
        items = list(queryset[(page - 1) * limit : page * limit])
        metadata: dict = {
            "totalItems": total,
            "currentPage": page,
            "pageSize": limit,
            "totalPages": math.ceil(total / limit),
        }
        if page * limit < total:
            metadata["nextPage"] = _url(request, page=page + 1)
            # A client may go on by cursor from any page, as from Civitai's.
            if next_cursor := _next_cursor(items, order, page * limit):
                metadata["nextCursor"] = next_cursor
        if page > 1:
            metadata["prevPage"] = _url(request, page=page - 1)
        return items, metadata

    offset = 0
    if cursor:
        values = _decode_cursor(cursor)
        if order is None:
            offset = values[0] if len(values) == 1 and isinstance(values[0], int) else -1
            if not 0 <= offset <= MAX_OFFSET:
                raise bad_cursor()
        else:
            queryset = _after(queryset, order, values)
    rows = list(queryset[offset : offset + limit + 1])
    items, more = rows[:limit], len(rows) > limit
    metadata = {}
    if more and (next_cursor := _next_cursor(items, order, offset + limit)):
        metadata = {"nextCursor": next_cursor, "nextPage": _url(request, cursor=next_cursor)}
    return items, metadata


def _next_cursor(items: list, order: tuple[str, ...] | None, offset: int) -> str:
    """The cursor after `items` ("" past the deepest offset a ranked search pages to)."""
    if order is None:
        return keyset.encode_cursor([offset]) if offset <= MAX_OFFSET else ""
    return keyset.encode_cursor(keyset.position(items[-1], order)) if items else ""
