from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models

from models_hub.choices import NsfwLevel


class User(AbstractUser):
    """The site's account. Custom from the first migration so later fields need no swap."""

    bio = models.TextField(blank=True, max_length=5000)
    # Which NSFW levels this person chose to see (a bitmask of NsfwLevel); PG until they opt in.
    browsing_level = models.PositiveSmallIntegerField(default=NsfwLevel.PG)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
