"""API keys: made and revoked by their owner, checked on every API request."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from community.models import ApiKey, User

KEY_PREFIX = "mh_"
OFFERED_SCOPES = (
    ApiKey.Scope.READ,
    ApiKey.Scope.DOWNLOAD,
    ApiKey.Scope.UPLOAD,
    ApiKey.Scope.MODERATE,
)
MAX_KEYS = 20
# Writing last_used_at on every request would be a write per request; once a minute is enough
# to tell a person whether a key is still in use.
LAST_USED_PRECISION = timedelta(minutes=1)


class KeyRefused(ValueError):
    """The key cannot be made as asked; the message says why."""


class InvalidKey(Exception):
    """A key that is malformed, unknown, revoked or expired (the message says which). API
    clients read the message, so it stays in English."""


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_create(
    *, user: User, name: str, scopes: list[str], expires_in_days: int | None = None
) -> tuple[ApiKey, str]:
    """Make a key; returns the row and the key itself, which is never stored or shown again."""
    name = (name or "").strip()[:100]
    if not name:
        raise KeyRefused(_("Name the key, so that you can tell it apart later."))
    chosen = sorted(set(scopes))
    if not chosen or not set(chosen) <= set(OFFERED_SCOPES):
        raise KeyRefused(_("Choose what the key may do."))
    if ApiKey.Scope.MODERATE in chosen:
        from moderation.permissions import is_moderator

        if not is_moderator(user):
            raise KeyRefused(_("Only moderators can make keys that moderate."))
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise KeyRefused(_("A key expires after 1 to 3650 days, or never."))
    if live_keys(user).count() >= MAX_KEYS:
        raise KeyRefused(
            ngettext(
                "You have %(count)d key; revoke it first.",
                "You have %(count)d keys; revoke one first.",
                MAX_KEYS,
            )
            % {"count": MAX_KEYS}
        )
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        user=user, name=name, prefix=raw[:10], key_hash=hash_key(raw), scopes=chosen,
        expires_at=timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None,
    )  # fmt: skip
    return key, raw


def live_keys(user: User):
    now = timezone.now()
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def api_key_revoke(*, user: User, key_id: int) -> bool:
    return bool(
        ApiKey.objects.filter(pk=key_id, user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    )


def api_key_check(raw: str) -> ApiKey:
    """The live key for this string, its user loaded, or InvalidKey saying what is wrong."""
    if not raw.startswith(KEY_PREFIX) or not 20 <= len(raw) <= 100:
        raise InvalidKey("That is not an API key of this site.")
    key = ApiKey.objects.select_related("user").filter(key_hash=hash_key(raw)).first()
    if key is None:
        raise InvalidKey("Unknown API key.")
    now = timezone.now()
    if key.revoked_at is not None:
        raise InvalidKey("This API key was revoked.")
    if key.expires_at is not None and key.expires_at <= now:
        raise InvalidKey("This API key has expired.")
    if not key.user.is_active:
        raise InvalidKey("This account is closed.")
    if key.last_used_at is None or key.last_used_at < now - LAST_USED_PRECISION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key
