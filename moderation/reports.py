"""Members report what breaks a rule. A report never removes anything by itself: reports about
one thing merge into one queue item with a count, and a moderator decides."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from models_hub.models import GalleryImage, ModelVersion
from moderation.checks.findings import RuleCode
from moderation.models import QueueItem, Report, Rule
from moderation.queue import Refused

# Many people reporting the same thing makes it more urgent.
ESCALATE_AT = 5


def report_create(
    *,
    reporter,
    rule: Rule,
    details: str = "",
    version: ModelVersion | None = None,
    image: GalleryImage | None = None,
    user=None,
) -> Report:
    """File a report about a version (or one of its images) or a member."""
    if image is not None:
        version = image.version
    if version is not None:
        visible = ModelVersion.objects.visible_to(reporter).filter(pk=version.pk)
        owner_id = visible.values_list("model__owner_id", flat=True).first()
        if owner_id is None:
            raise Refused(_("There is nothing to report there."))
        if owner_id == reporter.pk:
            raise Refused(_("You cannot report your own upload."))
    elif user is None:
        raise Refused(_("Say what you are reporting."))
    elif user.pk == reporter.pk:
        raise Refused(_("You cannot report yourself."))
    _check_rate(reporter)
    target = {"version": version} if version is not None else {"user": user}
    if Report.objects.filter(
        reporter=reporter, item__state=QueueItem.State.OPEN, **target
    ).exists():
        raise Refused(_("You have reported this already; a moderator will look at it."))
    with transaction.atomic():
        item = _open_item(rule, version, user)
        report = Report.objects.create(
            reporter=reporter, rule=rule, details=details.strip()[:2000], image=image,
            item=item, **target,
        )  # fmt: skip
        if item.priority > QueueItem.Priority.HIGH and item.reports.count() >= ESCALATE_AT:
            QueueItem.objects.filter(pk=item.pk).update(priority=QueueItem.Priority.HIGH)
    return report


def _check_rate(reporter) -> None:
    limit = settings.HUB_REPORTS_PER_HOUR
    since = timezone.now() - timedelta(hours=1)
    if Report.objects.filter(reporter=reporter, created_at__gte=since).count() >= limit:
        raise Refused(
            ngettext(
                "You have sent %(count)d report in the last hour, the most allowed. "
                "Please try again later.",
                "You have sent %(count)d reports in the last hour, the most allowed. "
                "Please try again later.",
                limit,
            )
            % {"count": limit}
        )


def _open_item(rule: Rule, version: ModelVersion | None, user) -> QueueItem:
    """The open report item about this thing, made if there is none (two reports at once:
    the unique constraint lets one make it, and the other finds it)."""
    target = {"version": version} if version is not None else {"target_user": user}
    open_items = QueueItem.objects.select_for_update().filter(
        source=QueueItem.Source.REPORT, state=QueueItem.State.OPEN, **target
    )
    item = open_items.first()
    if item is not None:
        return item
    priority = QueueItem.Priority.TOP if rule.code == RuleCode.MINORS else QueueItem.Priority.NORMAL
    about = "this version" if version is not None else f"the member {user.username}"
    try:
        with transaction.atomic():
            return QueueItem.objects.create(
                source=QueueItem.Source.REPORT, rule=rule, priority=priority,
                reason=f"Members reported {about} under “{rule.title}”. Read the reports below.",
                **target,
            )  # fmt: skip
    except IntegrityError:
        return open_items.get()
