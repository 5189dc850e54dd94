"""Reads for the moderators' queue pages: a fixed number of queries whatever the page length."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from models_hub.charts import last_days
from models_hub.params import parse_count
from moderation.models import (
    Appeal,
    ModerationAction,
    QueueItem,
    Report,
    Rule,
)

QUEUE_PAGE_SIZE = 50
MAX_FILTER_NUMBER = 100_000  # hours: past ten years, a timedelta gains nothing


@dataclass
class QueueFilters:
    source: str = ""
    rule: str = ""
    priority: int | None = None
    older_than_hours: int | None = None
    mine: bool = False

    @classmethod
    def from_query(cls, query) -> QueueFilters:
        def number(name: str) -> int | None:
            value = parse_count(query.get(name))
            return value if value is not None and value <= MAX_FILTER_NUMBER else None

        source = query.get("source", "")
        return cls(
            source=source if source in QueueItem.Source.values else "",
            rule=query.get("rule", "")[:40],
            priority=number("priority"),
            older_than_hours=number("older_than"),
            mine=query.get("mine") == "1",
        )


def open_items(filters: QueueFilters, moderator) -> QuerySet[QueueItem]:
    """Open items, most urgent first, then oldest first."""
    items = (
        QueueItem.objects.filter(state=QueueItem.State.OPEN)
        .select_related("rule", "claimed_by", "version__model__owner", "target_user")
        .annotate(report_count=Count("reports"))
    )
    if filters.source:
        items = items.filter(source=filters.source)
    if filters.rule:
        items = items.filter(rule__code=filters.rule)
    if filters.priority is not None:
        items = items.filter(priority=filters.priority)
    if filters.older_than_hours is not None:
        since = timezone.now() - timedelta(hours=filters.older_than_hours)
        items = items.filter(created_at__lt=since)
    if filters.mine:
        items = items.filter(claimed_by=moderator)
    return items.order_by("priority", "created_at", "id")


@dataclass
class QueueHealth:
    open_by_source: dict[str, int]
    median_hours_to_decision: float | None
    decided_last_30_days: int


def queue_health() -> QueueHealth:
    counts = dict(
        QueueItem.objects.filter(state=QueueItem.State.OPEN)
        .values_list("source")
        .annotate(n=Count("id"))
        .values_list("source", "n")
    )
    since = timezone.now() - timedelta(days=30)
    decided = QueueItem.objects.filter(state=QueueItem.State.CLOSED, closed_at__gte=since)
    total = decided.count()
    # The median in the database (the middle one or two spans), not every row in Python.
    spans = (
        decided.annotate(
            span=ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField())
        )
        .order_by("span")
        .values_list("span", flat=True)
    )
    middle = [spans[i] for i in sorted({(total - 1) // 2, total // 2})] if total else []
    return QueueHealth(
        open_by_source={label: counts.get(value, 0) for value, label in QueueItem.Source.choices},
        median_hours_to_decision=(
            round(statistics.mean(s.total_seconds() for s in middle) / 3600, 1) if middle else None
        ),
        decided_last_30_days=total,
    )


TREND_DAYS = 30


@dataclass
class QueueTrends:
    """Day by day, oldest first, in the current time zone."""

    days: list[date]
    # Items open at the end of each day: created by then and not decided by then (for today,
    # the items open now).
    open_at_end: list[int]
    # Items decided each day, and the median hours from creation to decision of those items
    # (None on a day without decisions).
    decided: list[int]
    median_hours: list[float | None]


def queue_trends(*, days: int = TREND_DAYS, today: date | None = None) -> QueueTrends:
    """The queue over the last `days` days, in four queries whatever the number of items.

    The size at the end of each day is a running sum: the items open when the window starts,
    plus those created, minus those decided, day by day. The median is exact on SQLite and
    PostgreSQL alike: a window function ranks each day's decisions by time taken and only the
    middle one or two of each day come back."""
    window = last_days(days, today=today)
    start, end = _midnight(window[0]), _midnight(window[-1] + timedelta(days=1))
    # A closed item without its closing time (edited by hand) has no place on a time line.
    items = QueueItem.objects.exclude(state=QueueItem.State.CLOSED, closed_at__isnull=True)
    open_at_start = (
        items.filter(created_at__lt=start)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=start))
        .count()
    )
    created = _per_day(items.filter(created_at__gte=start, created_at__lt=end), "created_at")
    closed = _per_day(items.filter(closed_at__gte=start, closed_at__lt=end), "closed_at")
    middles = (
        items.filter(closed_at__gte=start, closed_at__lt=end)
        .annotate(
            day=TruncDate("closed_at"),
            span=ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField()),
        )
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("day")], order_by=[F("span").asc(), "id"]),
            count=Window(Count("id"), partition_by=[F("day")]),
        )
        # The middle one (odd count) or two (even count): 2 * rank is count, count + 1 or
        # count + 2.
        .filter(count__lte=F("rank") * 2, count__gte=F("rank") * 2 - 2)
        .order_by()
        .values_list("day", "span")
    )
    spans: dict[date, list[timedelta]] = {}
    for day, span in middles:
        spans.setdefault(day, []).append(span)

    open_at_end, size = [], open_at_start
    for day in window:
        size += created.get(day, 0) - closed.get(day, 0)
        open_at_end.append(size)
    return QueueTrends(
        days=window,
        open_at_end=open_at_end,
        decided=[closed.get(day, 0) for day in window],
        median_hours=[
            round(statistics.mean(s.total_seconds() for s in spans[day]) / 3600, 2)
            if day in spans
            else None
            for day in window
        ],
    )


def _midnight(day: date) -> datetime:
    """The start of `day` in the current time zone (what TruncDate groups by)."""
    return timezone.make_aware(datetime.combine(day, time.min))


def _per_day(items: QuerySet[QueueItem], field_name: str) -> dict[date, int]:
    return dict(
        items.annotate(day=TruncDate(field_name))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )


@dataclass
class ItemPage:
    item: QueueItem
    images: list
    findings: list[dict]
    history: list[ModerationAction] = field(default_factory=list)
    other_items: list[QueueItem] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    appeal: Appeal | None = None
    takedowns: list = field(default_factory=list)


def item_page(item_id: int) -> ItemPage | None:
    item = (
        QueueItem.objects.annotate(report_count=Count("reports"))
        .select_related(
            "rule", "claimed_by", "version__model__owner", "version__model__license",
            "version__base_model", "target_user",
        )
        .filter(pk=item_id)
        .first()
    )  # fmt: skip
    if item is None:
        return None
    version = item.version
    page = ItemPage(
        item=item,
        images=list(version.images.all()) if version else [],
        findings=item.findings,
        rules=list(Rule.objects.all()),
        reports=list(item.reports.select_related("reporter", "rule", "image")),
        takedowns=list(item.takedowns.prefetch_related("photos")),
        appeal=Appeal.objects.select_related("action__rule", "action__moderator")
        .filter(item=item)
        .first(),
    )
    if version:
        page.history = list(
            ModerationAction.objects.filter(Q(version=version))
            .select_related("rule", "moderator")
            .order_by("-created_at", "-id")[:50]
        )
        page.other_items = list(
            QueueItem.objects.filter(version=version).exclude(pk=item.pk).select_related("rule")
        )
    return page
