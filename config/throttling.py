"""The API's rate limits as a DRF throttle, and for plain Django views (downloads). Its own
module: DRF reads DEFAULT_THROTTLE_CLASSES while rest_framework.views is being imported."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from config.clients import client_address, rate_limit_take


class ApiRateLimit(BaseThrottle):
    """HUB_API_REQUESTS_PER_MINUTE per API key, or per address for calls without a key;
    past it, a 429 with Retry-After (DRF sets the header from wait())."""

    def allow_request(self, request, view) -> bool:
        self._wait = rate_limit_for(request, getattr(request, "auth", None))
        return self._wait is None

    def wait(self) -> int | None:
        return self._wait


def rate_limit_for(request, key) -> int | None:
    """Count one API call by `key` (an ApiKey, or None for the caller's address); the seconds
    to wait when over the limit, else None."""
    if hasattr(key, "scopes"):
        # By the key's hash, not its row id: ids are reused after a database is restored.
        bucket = f"key:{key.key_hash[:20]}"
        return rate_limit_take(bucket, settings.HUB_API_REQUESTS_PER_MINUTE_PER_KEY)
    return rate_limit_take(
        f"address:{client_address(request)}", settings.HUB_API_REQUESTS_PER_MINUTE_PER_ADDRESS
    )
