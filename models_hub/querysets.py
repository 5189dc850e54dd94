"""Visibility, in one place. Every page, the download endpoint and search start from these.

- Staff see everything.
- Owners see their own content in every state except deleted.
- Everyone else sees what is published, and only under a published parent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q

from models_hub.choices import NsfwLevel, Status

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from community.models import User


VIEWABLE_LEVELS = NsfwLevel.PG | NsfwLevel.PG13 | NsfwLevel.R | NsfwLevel.X | NsfwLevel.XXX


def _is_staff(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_staff)


def browsing_level_of(user: User | AnonymousUser) -> int:
    """The NSFW levels a person may be shown: PG for anonymous visitors."""
    if not user.is_authenticated:
        return NsfwLevel.PG
    return user.browsing_level or NsfwLevel.PG


def above_browsing_level(nsfw_level: int, user: User | AnonymousUser) -> bool:
    """Whether content of this rating holds a level `user` did not choose to see (a list
    that fetched it shows them a placeholder; the picture itself is not served)."""
    return bool((nsfw_level or 0) & ~browsing_level_of(user))


def listing_levels(user: User | AnonymousUser) -> int:
    """The ratings a list or gallery fetches for `user`: their browsing level, or, for someone
    who asked to see content above it blurred, every viewable rating; templates then show
    what is above their level as a placeholder only (the `above_level` filter), and the
    media view never serves its bytes to them."""
    if user.is_authenticated and user.above_level == "blur":
        return VIEWABLE_LEVELS
    return browsing_level_of(user)


class _NsfwLevelMixin:
    def within_levels(self, levels: int):
        """Rows with no NSFW level outside `levels` (a bitmask).

        Spelled as the list of the masks that qualify (at most 64), not as a bitwise AND:
        PostgreSQL has statistics for an IN list and none for `nsfw_level & n = 0`, which it
        guessed matched 95 of 15,000 rows and so sorted the whole table instead of walking
        an index (docs/PERFORMANCE.md).
        """
        return self.filter(nsfw_level__in=[mask for mask in range(64) if mask & ~levels == 0])


class ModelQuerySet(_NsfwLevelMixin, models.QuerySet):
    def visible_to(self, user: User | AnonymousUser) -> ModelQuerySet:
        if _is_staff(user):
            return self.all()
        # A banned member's account is closed: nothing of theirs is public any more.
        public = Q(status=Status.PUBLISHED, owner__is_active=True)
        if user.is_authenticated:
            return self.filter(public | (Q(owner=user) & ~Q(status=Status.DELETED)))
        return self.filter(public)


def _version_visibility(user: User | AnonymousUser, prefix: str = "") -> Q | None:
    """Who may see a version, as a filter on a version (prefix "") or on its children
    ("version__"). None means no filter at all (staff)."""
    if _is_staff(user):
        return None

    def q(**lookups: object) -> Q:
        return Q(**{prefix + key: value for key, value in lookups.items()})

    public = q(
        status=Status.PUBLISHED, model__status=Status.PUBLISHED, model__owner__is_active=True
    )
    if user.is_authenticated:
        own = q(model__owner=user) & ~q(status=Status.DELETED) & ~q(model__status=Status.DELETED)
        return public | own
    return public


class _VersionScopedQuerySet(models.QuerySet):
    visibility_prefix = ""

    def visible_to(self, user: User | AnonymousUser):
        condition = _version_visibility(user, self.visibility_prefix)
        return self.all() if condition is None else self.filter(condition)


class ModelVersionQuerySet(_VersionScopedQuerySet):
    visibility_prefix = ""


class ModelFileQuerySet(_VersionScopedQuerySet):
    visibility_prefix = "version__"


class GalleryImageQuerySet(_NsfwLevelMixin, _VersionScopedQuerySet):
    visibility_prefix = "version__"
