"""Checks on uploads, the guidelines they cite, the protected-person registry, and what staff
must look at. Writes go through moderation/services.py and moderation/pipeline.py."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import get_language, gettext_noop

from models_hub.choices import JobStatus
from moderation.checks.findings import Finding

# Choice labels are only marked for translation (gettext_noop): they stay English where code
# writes them into notifications, e-mails and queue reasons, and pages translate them with
# {% translate label %}.


def rule_url(code: str) -> str:
    """The full link to a rule on the guidelines page, for notifications and e-mails."""
    return f"{settings.SITE_URL}{reverse('moderation:guidelines')}#rule-{code}"


class Rule(models.Model):
    """One community guideline. Every check finding and every staff decision names one."""

    code = models.SlugField(max_length=40, unique=True)
    title = models.CharField(max_length=120)
    title_ja = models.CharField(max_length=120, blank=True)
    explanation = models.TextField(blank=True)
    explanation_ja = models.TextField(blank=True)
    # One example per line: the guidelines page shows them as a list.
    examples = models.TextField(blank=True)
    examples_ja = models.TextField(blank=True)
    # What happens on a breach, in the terms of what the checks and moderators really do.
    consequence = models.TextField(blank=True)
    consequence_ja = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.title

    def text(self, field: str, language: str) -> str:
        """`field` (title, explanation, examples, consequence) in `language` ("en" or
        "ja"); a Japanese text staff have not written yet falls back to the English one."""
        return (language == "ja" and getattr(self, f"{field}_ja")) or getattr(self, field)

    @property
    def display_title(self) -> str:
        """The title in the page's language. Notifications and e-mails keep `title`: they
        are written once, in English, for whoever reads them later."""
        return self.text("title", "ja" if (get_language() or "").startswith("ja") else "en")


class CheckRun(models.Model):
    """One check of one target: a version (license, text likeness) or a gallery image (NSFW,
    likeness). The row is the record of the job: the broker may lose or repeat a message."""

    class Kind(models.TextChoices):
        LICENSE = "license", gettext_noop("License and lineage")
        TEXT_LIKENESS = "text_likeness", gettext_noop("Real people named in the text")
        NSFW = "nsfw", gettext_noop("Content rating")
        LIKENESS = "likeness", gettext_noop("Real-person likeness")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    version = models.ForeignKey(
        "models_hub.ModelVersion", on_delete=models.CASCADE, related_name="check_runs"
    )
    image = models.ForeignKey(
        "models_hub.GalleryImage",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="check_runs",
    )
    state = models.CharField(max_length=8, choices=JobStatus.choices, default=JobStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The Celery task id of the delivery working on it: a redelivery of the same message
    # (its worker died) may take the row back, a second message may not.
    task_id = models.CharField(max_length=64, blank=True)
    # What the check found, as Finding.as_json() dicts, and what it measured (level, faces).
    findings = models.JSONField(default=list, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    checker_version = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "version"],
                condition=Q(image__isnull=True),
                name="one_version_check",
            ),
            models.UniqueConstraint(
                fields=["kind", "image"],
                condition=Q(image__isnull=False),
                name="one_image_check",
            ),
        ]
        indexes = [models.Index(fields=["state", "updated_at"], name="checkrun_state_updated")]

    def __str__(self) -> str:
        target = f"image {self.image_id}" if self.image_id else f"version {self.version_id}"
        return f"{self.get_kind_display()} of {target}: {self.state}"

    @property
    def finding_objects(self) -> list[Finding]:
        return [Finding.from_json(data) for data in self.findings]


def protected_photo_key(instance: ProtectedPhoto, filename: str) -> str:
    # Never under a public prefix: the media view serves gallery images only.
    return f"protected/{uuid.uuid4().hex}.jpg"


class ProtectedPerson(models.Model):
    """Someone who asked not to be depicted. Staff add people; accepted takedown requests too."""

    name = models.CharField(max_length=200)
    # Other names, in any script ("バラク・オバマ", "Barack Obama", a stage name).
    aliases = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "protected people"

    def __str__(self) -> str:
        return self.name

    @property
    def all_names(self) -> list[str]:
        return [self.name, *[alias for alias in self.aliases if isinstance(alias, str)]]


class ProtectedPhoto(models.Model):
    """A reference photo of a protected person; its face embedding is computed when added."""

    person = models.ForeignKey(ProtectedPerson, on_delete=models.CASCADE, related_name="photos")
    image = models.FileField(upload_to=protected_photo_key, max_length=255)
    embedding = models.JSONField(null=True, blank=True)  # 128 floats, or null if no face
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Photo {self.pk} of {self.person}"


class QueueItem(models.Model):
    """Something staff must look at: a check's hold or block, reports about one thing (merged,
    with a count), an appeal of a decision, or a takedown request. Its lifecycle is in
    moderation/queue.py."""

    class Source(models.TextChoices):
        CHECK = "check", gettext_noop("Automatic check")
        REPORT = "report", gettext_noop("Report")
        APPEAL = "appeal", gettext_noop("Appeal")
        TAKEDOWN = "takedown", gettext_noop("Takedown request")

    class State(models.TextChoices):
        OPEN = "open", gettext_noop("Open")
        CLOSED = "closed", gettext_noop("Closed")

    class Priority(models.IntegerChoices):
        TOP = 0, gettext_noop("Top")  # minors; acted on before anything else
        HIGH = 10, gettext_noop("High")  # blocks
        NORMAL = 20, gettext_noop("Normal")  # holds

    source = models.CharField(max_length=10, choices=Source.choices)
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="queue_items")
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)
    version = models.ForeignKey(
        "models_hub.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="queue_items",
    )
    # A reported member (reports about a person rather than an upload).
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    reason = models.TextField()
    findings = models.JSONField(default=list, blank=True)
    # An appeal goes to a different moderator than the one who made the decision.
    excluded_moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A moderator's claim, so that two never act on one item; it lapses after
    # HUB_QUEUE_CLAIM_MINUTES (a moderator who walked away does not hold it for ever).
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["priority", "created_at", "id"]
        constraints = [
            # A re-run of the pipeline updates the open item instead of adding another.
            models.UniqueConstraint(
                fields=["source", "version"],
                condition=Q(state="open", version__isnull=False),
                name="one_open_item_per_version_and_source",
            ),
            # Reports about one member merge the same way.
            models.UniqueConstraint(
                fields=["source", "target_user"],
                condition=Q(state="open", version__isnull=True, target_user__isnull=False),
                name="one_open_item_per_member_and_source",
            ),
        ]
        indexes = [models.Index(fields=["state", "priority", "created_at"], name="queue_open")]

    def __str__(self) -> str:
        return f"{self.get_source_display()}: {self.reason[:60]}"


class Report(models.Model):
    """A member's report that something breaks a rule. Reports never remove anything by
    themselves: they put (or add to) an item in the queue."""

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports_made"
    )
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="reports")
    details = models.TextField(blank=True, max_length=2000)
    version = models.ForeignKey(
        "models_hub.ModelVersion", null=True, blank=True, on_delete=models.CASCADE,
        related_name="reports",
    )  # fmt: skip
    image = models.ForeignKey(
        "models_hub.GalleryImage", null=True, blank=True, on_delete=models.CASCADE,
        related_name="reports",
    )  # fmt: skip
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
        related_name="reports_received",
    )  # fmt: skip
    item = models.ForeignKey(
        QueueItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["reporter", "created_at"], name="report_reporter_created")]
        constraints = [
            models.CheckConstraint(
                condition=Q(version__isnull=False) | Q(user__isnull=False),
                name="report_has_target",
            )
        ]

    def __str__(self) -> str:
        return f"Report {self.pk} by {self.reporter_id} ({self.rule_id})"


class AppendOnly(Exception):
    """The moderation log is never changed or shortened, by the ORM or the admin."""


class ModerationActionQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnly("Moderation actions cannot be changed.")

    def delete(self):
        raise AppendOnly("Moderation actions cannot be deleted.")


class ModerationAction(models.Model):
    """One decision by a moderator: what was done, to what, under which rule, and the reason
    its owner is shown. Append-only: written by moderation/queue.py, never updated."""

    class Kind(models.TextChoices):
        APPROVE = "approve", gettext_noop("Approve")
        APPROVE_AS = "approve_as", gettext_noop("Approve with a rating")
        REQUEST_CHANGES = "request_changes", gettext_noop("Request changes")
        UNPUBLISH = "unpublish", gettext_noop("Unpublish")
        BLOCK = "block", gettext_noop("Block")
        DISMISS = "dismiss", gettext_noop("Dismiss")
        ACCEPT = "accept", gettext_noop("Accept the takedown request")
        REJECT = "reject", gettext_noop("Reject the takedown request")
        OVERTURN = "overturn", gettext_noop("Overturn the decision under appeal")
        # Side actions: they act on the owner or on some images, and leave the item open.
        RATE_IMAGES = "rate_images", gettext_noop("Rate the selected images")
        MARK_REAL_PERSON = "mark_real_person", gettext_noop("Mark as depicting a real person")
        SUSPEND = "suspend", gettext_noop("Suspend the uploader")
        BAN = "ban", gettext_noop("Ban the uploader")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="actions")
    reason = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="moderation_actions"
    )
    item = models.ForeignKey(
        QueueItem, null=True, blank=True, on_delete=models.PROTECT, related_name="actions"
    )
    version = models.ForeignKey(
        "models_hub.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="moderation_actions",
    )
    # Whose content it was: the person notified, and the only one who may appeal.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ModerationActionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["rule", "created_at"], name="action_rule_created")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.rule.code}) by {self.moderator}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnly("Moderation actions cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("Moderation actions cannot be deleted.")


# Actions that leave the item open: they act on the owner or on some images.
SIDE_ACTIONS = (
    ModerationAction.Kind.RATE_IMAGES,
    ModerationAction.Kind.MARK_REAL_PERSON,
    ModerationAction.Kind.SUSPEND,
    ModerationAction.Kind.BAN,
)
# Actions that leave a version's status as it was (the removal notice, the owner's notice
# and the transparency page's "removed" all ask this one question).
KEEP_STATUS = (*SIDE_ACTIONS, ModerationAction.Kind.DISMISS, ModerationAction.Kind.REJECT)


class Appeal(models.Model):
    """An owner's one appeal of one decision; a different moderator decides it."""

    class Outcome(models.TextChoices):
        PENDING = "", gettext_noop("Pending")
        UPHELD = "upheld", gettext_noop("Upheld")
        OVERTURNED = "overturned", gettext_noop("Overturned")

    action = models.OneToOneField(ModerationAction, on_delete=models.PROTECT, related_name="appeal")
    appellant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="appeals"
    )
    statement = models.TextField(max_length=5000)
    item = models.ForeignKey(
        QueueItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="appeals"
    )
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Appeal of action {self.action_id}"


def takedown_photo_key(instance: TakedownPhoto, filename: str) -> str:
    return f"takedown/{uuid.uuid4().hex}.jpg"


class TakedownRequest(models.Model):
    """A request from outside, without an account: a person depicted without consent, or a
    rights holder. Staff verify it; an accepted likeness request adds the person to the
    protected registry."""

    class Kind(models.TextChoices):
        LIKENESS = "likeness", gettext_noop("My likeness is used without my consent")
        COPYRIGHT = "copyright", gettext_noop("My copyright or license is not respected")

    class State(models.TextChoices):
        OPEN = "open", gettext_noop("Open")
        ACCEPTED = "accepted", gettext_noop("Accepted")
        REJECTED = "rejected", gettext_noop("Rejected")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=200)
    aliases = models.JSONField(default=list, blank=True)
    contact_email = models.EmailField()
    statement = models.TextField(max_length=5000)
    work = models.TextField(blank=True, max_length=2000)  # copyright: what, and whose
    proof = models.TextField(blank=True, max_length=5000)
    content_url = models.CharField(max_length=500, blank=True)
    version = models.ForeignKey(
        "models_hub.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="takedown_requests",
    )  # fmt: skip
    # A keyed hash of the sender's address, for the rate limit; the address is not kept.
    sender_hash = models.CharField(max_length=64, db_index=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    item = models.ForeignKey(
        QueueItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="takedowns"
    )
    person = models.ForeignKey(
        ProtectedPerson, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"


class TakedownPhoto(models.Model):
    request = models.ForeignKey(TakedownRequest, on_delete=models.CASCADE, related_name="photos")
    image = models.FileField(upload_to=takedown_photo_key, max_length=255)

    def __str__(self) -> str:
        return f"Photo {self.pk} of takedown request {self.request_id}"
