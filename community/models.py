from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

from models_hub.choices import NsfwLevel


class User(AbstractUser):
    """The site's account. Custom from the first migration so later fields need no swap."""

    bio = models.TextField(blank=True, max_length=5000)
    # Which NSFW levels this person chose to see (a bitmask of NsfwLevel); PG until they opt in.
    browsing_level = models.PositiveSmallIntegerField(default=NsfwLevel.PG)
    # Set by a moderator's suspension: no uploads until then (signing in, reading, reporting
    # and appealing still work). A ban is is_active=False.
    suspended_until = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    @property
    def is_suspended(self) -> bool:
        return self.suspended_until is not None and self.suspended_until > timezone.now()


class Notification(models.Model):
    """Something the site tells a person (a moderation decision and its reason, an appeal's
    outcome); shown on their notifications page and sent by e-mail."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    title = models.CharField(max_length=200)
    body = models.TextField()
    url = models.CharField(max_length=500, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_unread")]

    def __str__(self) -> str:
        return f"{self.user}: {self.title}"


class ApiKey(models.Model):
    """A key for the API, shown once when made. Only its SHA-256 is kept: the key is 256
    random bits, so a database dump cannot be turned back into a working key."""

    class Scope(models.TextChoices):
        READ = "read", "Read (including your own hidden content)"
        DOWNLOAD = "download", "Download files"
        UPLOAD = "upload", "Upload models"
        MODERATE = "moderate", "Moderate (moderators only)"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)  # shown in the list, so people can tell keys apart
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) of {self.user}"
