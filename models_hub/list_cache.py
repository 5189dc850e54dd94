"""What lists show that is costly to make and harmless when a minute old: how many models a
filter matches, the popular tags, the API's tags and creators pages, the model cards
(models_hub/cards.py). Kept in the cache (Redis in production, so every web process shares
them) for HUB_LIST_CACHE_SECONDS; with the cache away, made every time.

A count is keyed by the SQL of the list it counts, so two lists share a figure only when
they would select exactly the same rows (a member's own drafts make their SQL their own).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cached_property
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db.models import QuerySet

from config.clients import unless_cache_away

T = TypeVar("T")


def kept(key: str, compute: Callable[[], T]) -> T:
    """`compute()`, or its value from the last HUB_LIST_CACHE_SECONDS under `key`."""
    return kept_each([key], lambda _: compute())[0]


def kept_each(keys: list[str], compute: Callable[[int], T], *, what: str = "List") -> list[T]:
    """For each of `keys`, its value from the last HUB_LIST_CACHE_SECONDS, or `compute(i)`
    for the i-th key when none is kept (then kept). One round trip to read them all and one
    to keep the new ones. `what` names them in the warning when the cache is away."""
    seconds = settings.HUB_LIST_CACHE_SECONDS
    found: dict[str, T] | None = None
    if seconds > 0:
        with unless_cache_away(what):
            found = cache.get_many(keys)
    if found is None:  # off, or the cache is away: compute, as without one
        found, seconds = {}, 0
    made = {key: compute(i) for i, key in enumerate(keys) if key not in found}
    if made and seconds > 0:
        with unless_cache_away(what):
            cache.set_many(made, seconds)
    return [found[key] if key in found else made[key] for key in keys]


def cached_count(queryset: QuerySet) -> int:
    try:
        sql = str(queryset.query)
    except EmptyResultSet:  # a filter that can match nothing
        return 0
    digest = hashlib.sha256(sql.encode()).hexdigest()[:32]
    return kept(f"list-count:{digest}", queryset.count)


class CachedCountPaginator(Paginator):
    """Django's paginator, with the total from `cached_count`."""

    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, QuerySet):
            return cached_count(self.object_list)
        return super().count
