from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from models_hub.choices import NsfwLevel

MAX_PROFILE_LINKS = 5


def avatar_key(instance: User, filename: str) -> str:
    # A new name per upload: caches may keep an avatar for a day, and a changed picture must
    # not wait for them.
    return f"avatars/{uuid.uuid4().hex}.webp"


class User(AbstractUser):
    """The site's account. Custom from the first migration so later fields need no swap."""

    class AboveLevel(models.TextChoices):
        """What lists do with content rated above the person's browsing level."""

        HIDE = "hide", _("Hide it")
        BLUR = "blur", _("Show it blurred")

    # Markdown, rendered through models_hub.markdown (sanitised) wherever it is shown.
    bio = models.TextField(blank=True, max_length=5000)
    avatar = models.FileField(upload_to=avatar_key, max_length=255, blank=True)
    # Up to MAX_PROFILE_LINKS http(s) addresses, checked by the profile service.
    links = models.JSONField(default=list, blank=True)
    # Which NSFW levels this person chose to see (a bitmask of NsfwLevel); PG until they opt in.
    browsing_level = models.PositiveSmallIntegerField(default=NsfwLevel.PG)
    above_level = models.CharField(
        max_length=4, choices=AboveLevel.choices, default=AboveLevel.HIDE
    )
    # Kept by community.services (follow_toggle), never counted on a page.
    follower_count = models.PositiveIntegerField(default=0)
    # Set by a moderator's suspension: no uploads until then (signing in, reading, reporting
    # and appealing still work). A ban is is_active=False.
    suspended_until = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    @property
    def is_suspended(self) -> bool:
        return self.suspended_until is not None and self.suspended_until > timezone.now()

    def get_absolute_url(self) -> str:
        return reverse("profile", args=[self.username])


class Notification(models.Model):
    """Something the site tells a person (a moderation decision and its reason, an appeal's
    outcome, a followed creator's new version); shown on their notifications page and, for
    moderation, sent by e-mail."""

    class Kind(models.TextChoices):
        NOTICE = "notice", "Notice"
        NEW_VERSION = "new_version", "New version from a creator you follow"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.NOTICE)
    # What a NEW_VERSION notification is about: while moderation hides it, the notification
    # is left out of the list (community.selectors.notifications_for).
    version = models.ForeignKey(
        "models_hub.ModelVersion", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    title = models.CharField(max_length=200)
    body = models.TextField()
    url = models.CharField(max_length=500, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_unread")]
        constraints = [
            # Telling each follower once, however often the task runs.
            models.UniqueConstraint(
                fields=["user", "kind", "version"],
                condition=Q(version__isnull=False),
                name="notification_once_per_version",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.title}"


class ApiKey(models.Model):
    """A key for the API, shown once when made. Only its SHA-256 is kept: the key is 256
    random bits, so a database dump cannot be turned back into a working key."""

    class Scope(models.TextChoices):
        READ = "read", _("Read (including your own hidden content)")
        DOWNLOAD = "download", _("Download files")
        UPLOAD = "upload", _("Upload models")
        MODERATE = "moderate", _("Moderate (moderators only)")

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


class Follow(models.Model):
    follower = models.ForeignKey(User, on_delete=models.CASCADE, related_name="following")
    creator = models.ForeignKey(User, on_delete=models.CASCADE, related_name="followers")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "creator"], name="follow_once"),
            models.CheckConstraint(condition=~Q(follower=F("creator")), name="follow_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.follower} follows {self.creator}"


class Review(models.Model):
    """One person's verdict on one version: recommended or not, with optional text."""

    version = models.ForeignKey(
        "models_hub.ModelVersion", on_delete=models.CASCADE, related_name="reviews"
    )
    author = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reviews")
    recommended = models.BooleanField()
    text = models.TextField(blank=True, max_length=5000)
    # Set by a moderator: the review stays for its author and staff, and leaves the counts.
    hidden = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "author"], name="review_once_per_version")
        ]
        indexes = [
            # A model page shows a version's newest reviews 20 at a time. Without it,
            # PostgreSQL joined all of the most reviewed version's 1,606 reviews to their
            # authors and sorted them: 11 ms of SQL, against 0.07 ms (docs/PERFORMANCE.md).
            models.Index(fields=["version", "-created_at", "-id"], name="review_version_newest")
        ]

    def __str__(self) -> str:
        verdict = "recommends" if self.recommended else "does not recommend"
        return f"{self.author} {verdict} {self.version_id}"


class Comment(models.Model):
    """A comment on a model or on an image, optionally a reply in a thread."""

    author = models.ForeignKey(User, on_delete=models.CASCADE, related_name="comments")
    model = models.ForeignKey(
        "models_hub.Model", null=True, blank=True, on_delete=models.CASCADE, related_name="comments"
    )
    image = models.ForeignKey(
        "models_hub.GalleryImage",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="comments",
    )
    # A reply; always on the same model or image as its parent (community.services).
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    body = models.TextField(max_length=5000)  # Markdown, sanitised when rendered
    hidden = models.BooleanField(default=False)  # by a moderator
    deleted = models.BooleanField(default=False)  # by its author; replies keep their place
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(model__isnull=False, image__isnull=True)
                | Q(model__isnull=True, image__isnull=False),
                name="comment_on_model_or_image",
            )
        ]
        indexes = [
            models.Index(fields=["model", "created_at"], name="comment_model_time"),
            models.Index(fields=["image", "created_at"], name="comment_image_time"),
        ]

    def __str__(self) -> str:
        return f"Comment {self.pk} by {self.author}"


class Reaction(models.Model):
    class Kind(models.TextChoices):
        LIKE = "like", _("Like")
        HEART = "heart", _("Love")
        LAUGH = "laugh", _("Funny")
        CRY = "cry", _("Sad")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reactions")
    image = models.ForeignKey(
        "models_hub.GalleryImage", on_delete=models.CASCADE, related_name="reactions"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "image", "kind"], name="reaction_once")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.kind} image {self.image_id}"


class Favorite(models.Model):
    """A person's favourite model; Model.like_count counts them."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="favorites")
    model = models.ForeignKey(
        "models_hub.Model", on_delete=models.CASCADE, related_name="favorites"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "model"], name="favorite_once")]

    def __str__(self) -> str:
        return f"{self.user} ♥ {self.model_id}"


class Collection(models.Model):
    """A named list of models; a private one is a 404 to everyone but its owner."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="collections")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=2000)
    is_public = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="collection_name_per_owner")
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("collection", args=[self.pk])


class CollectionItem(models.Model):
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="items")
    model = models.ForeignKey(
        "models_hub.Model", on_delete=models.CASCADE, related_name="collection_items"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-added_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["collection", "model"], name="collection_item_once")
        ]

    def __str__(self) -> str:
        return f"{self.model_id} in {self.collection_id}"
