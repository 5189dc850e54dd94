"""Who is asking and how often: the sender's address, and fixed-window rate limits counted
in the cache (Redis in production, so every web process shares one count)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest

logger = logging.getLogger(__name__)


def client_address(request: HttpRequest) -> str:
    """The sender's address: behind a trusted proxy, the one it appended last (the earlier
    entries of X-Forwarded-For are whatever the client claimed)."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.TRUST_PROXY_HEADERS and forwarded:
        return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


def rate_limit_take(bucket: str, limit: int, window: int = 60) -> int | None:
    """Count one request against `bucket` (e.g. "key:12"): None while within `limit` per
    `window` seconds, else the whole seconds until the window turns (for Retry-After).

    A fixed window counted with INCR: atomic across processes, and it forgets itself when
    the window's key expires.
    """
    now = time.time()
    window_start = int(now // window) * window
    key = f"rate:{bucket}:{window_start}"
    try:
        count = _count_in_window(key, window + 5)
    except cache_errors() as error:
        # The cache (Redis) is away: the API and downloads keep answering, uncounted for
        # the while, rather than every one of them failing with a 500.
        logger.warning(
            "Rate limit for %s not counted: the cache is unreachable (%s)", bucket, error
        )
        return None
    if count <= limit:
        return None
    return max(1, math.ceil(window_start + window - now))


def _count_in_window(key: str, timeout: int) -> int:
    """Add one to `key`'s count (created at 0 to live `timeout` seconds) and return it.

    On Redis, SET NX and INCR go in one pipeline: one round trip, where Django's add and
    incr take three (incr checks that the key exists first), about half a millisecond of
    every API call (docs/PERFORMANCE.md). Other caches (the embedded default's memory) use
    those two calls."""
    backend = caches["default"]  # the backend itself (django.core.cache.cache is a proxy)
    if isinstance(backend, RedisCache):
        key = backend.make_and_validate_key(key)
        # A transaction, so no other client's command falls between the two.
        with backend._cache.get_client(key, write=True).pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=timeout, nx=True)
            pipe.incr(key)
            return pipe.execute()[1]
    backend.add(key, 0, timeout=timeout)
    try:
        return backend.incr(key)
    except ValueError:  # the key expired between add and incr
        backend.set(key, 1, timeout=timeout)
        return 1


def cache_errors() -> tuple[type[Exception], ...]:
    """What an unreachable cache raises: connection errors, and redis-py's base error (not
    an OSError) when the cache is Redis."""
    try:
        from redis.exceptions import RedisError
    except ImportError:  # pragma: no cover - redis is a dependency; SQLite-only sites still run
        return (OSError,)
    return (OSError, RedisError)


@contextmanager
def unless_cache_away(what: str) -> Iterator[None]:
    """Run the block's cache calls; if the cache is unreachable, log a warning naming `what`
    is kept there and go on. A block that reads leaves its result unset: set it to None
    before, and do without the cache when it still is."""
    try:
        yield
    except cache_errors() as error:
        logger.warning("%s cache unreachable (%s)", what, error)
