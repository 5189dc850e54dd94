"""Figures that lists show, costly to compute exactly and harmless when a minute old: how
many models a filter matches, and the popular tags. Kept in the cache (Redis in production,
so every web process shares them) for HUB_LIST_CACHE_SECONDS.

A count is keyed by the SQL of the list it counts, so two lists share a figure only when
they would select exactly the same rows (a member's own drafts make their SQL their own).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from functools import cached_property
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db.models import QuerySet

from config.clients import cache_errors

log = logging.getLogger(__name__)
T = TypeVar("T")


def kept(key: str, compute: Callable[[], T]) -> T:
    """`compute()`, or its value from the last HUB_LIST_CACHE_SECONDS under `key`."""
    seconds = settings.HUB_LIST_CACHE_SECONDS
    if seconds <= 0:
        return compute()
    try:
        found = cache.get(key)
        if found is not None:
            return found
        value = compute()
        cache.set(key, value, seconds)
        return value
    except cache_errors() as error:  # the cache is away: compute, as without one
        log.warning("List cache unreachable (%s)", error)
        return compute()


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
