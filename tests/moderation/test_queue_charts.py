"""The queue page's charts: the queue's size at the end of each day and the median time to
decision of each day's decisions, counted in the database (these tests run on SQLite and on
PostgreSQL alike)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from moderation.models import QueueItem, Rule
from moderation.queue_selectors import queue_trends

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"
TODAY = date(2024, 11, 10)


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2024, 11, day, hour, minute, tzinfo=UTC)


def item(created: datetime, closed: datetime | None = None, *, state: str = "") -> QueueItem:
    """A queue item created and (if `closed`) decided at the given times."""
    row = QueueItem.objects.create(source="check", rule=Rule.objects.first(), reason="test")
    state = state or ("closed" if closed else "open")
    QueueItem.objects.filter(pk=row.pk).update(created_at=created, closed_at=closed, state=state)
    return row


def by_day(trends, values) -> dict[date, object]:
    return dict(zip(trends.days, values, strict=True))


def test_the_window_is_the_last_thirty_days_ending_today():
    trends = queue_trends(today=TODAY)
    assert trends.days[0] == date(2024, 10, 12) and trends.days[-1] == TODAY
    assert len(trends.days) == len(trends.open_at_end) == len(trends.median_hours) == 30
    assert trends.open_at_end == [0] * 30 and trends.median_hours == [None] * 30


def test_the_queue_size_counts_what_was_open_at_the_end_of_each_day():
    item(datetime(2024, 9, 1, tzinfo=UTC))  # before the window, still open
    item(datetime(2024, 9, 1, tzinfo=UTC), at(3))  # before the window, decided on the 3rd
    item(datetime(2024, 9, 1, tzinfo=UTC), datetime(2024, 9, 2, tzinfo=UTC))  # long gone
    item(datetime(2024, 9, 1, tzinfo=UTC), at(1, 0, 0))  # decided as the window opens
    item(at(2, 9), at(2, 17))  # opened and decided the same day: never open at a day's end
    item(at(4, 23, 59), at(6, 8))  # open at the end of the 4th and the 5th
    item(at(5), at(7, 0, 0))  # decided on the stroke of midnight: open at the end of the 6th
    item(at(8))  # still open
    item(at(6), state="closed")  # closed by hand without a time: not on the time line
    trends = queue_trends(days=10, today=TODAY)
    sizes = by_day(trends, trends.open_at_end)
    assert [sizes[date(2024, 11, d)] for d in range(1, 11)] == [2, 2, 1, 2, 3, 2, 1, 2, 2, 2]
    decided = by_day(trends, trends.decided)
    assert [decided[date(2024, 11, d)] for d in range(1, 11)] == [1, 1, 1, 0, 0, 1, 1, 0, 0, 0]


def test_the_median_time_to_decision_is_taken_over_each_days_decisions():
    for hours in (10, 1, 2):  # odd: the middle one, whatever the order they were made in
        item(at(3) - timedelta(hours=hours), at(3))
    for hours in (1, 4):  # even: the mean of the middle two
        item(at(5) - timedelta(hours=hours), at(5))
    item(datetime(2024, 10, 29, 20, tzinfo=UTC), at(8, 20))  # created before the window
    item(at(6))  # not decided: no part of a median
    trends = queue_trends(days=9, today=date(2024, 11, 9))
    medians = by_day(trends, trends.median_hours)
    assert medians[date(2024, 11, 3)] == 2.0
    assert medians[date(2024, 11, 5)] == 2.5
    assert medians[date(2024, 11, 8)] == 240.0
    assert [d.day for d, m in medians.items() if m is not None] == [3, 5, 8]


def test_days_follow_the_current_time_zone():
    # 20:00 UTC on the 2nd is 05:00 on the 3rd in Tokyo.
    item(at(2, 9), at(2, 20))
    with timezone.override("Asia/Tokyo"):
        trends = queue_trends(days=5, today=date(2024, 11, 4))
    decided = by_day(trends, trends.decided)
    assert decided[date(2024, 11, 2)] == 0 and decided[date(2024, 11, 3)] == 1
    sizes = by_day(trends, trends.open_at_end)
    assert sizes[date(2024, 11, 2)] == 1 and sizes[date(2024, 11, 3)] == 0


def test_the_queue_page_draws_both_charts(alice, client_for):
    now = timezone.now()
    item(now - timedelta(days=3), now - timedelta(days=3) + timedelta(hours=6))
    item(now - timedelta(days=2))
    page = client_for(alice).get("/moderation/")
    assert page.status_code == 200
    html = page.content.decode()
    start = html.index('<div class="chart-row">')
    row = ET.fromstring(html[start : html.index("</section>", start)])
    svgs = row.findall(f".//{SVG}svg")
    assert [s.find(f"{SVG}title").text for s in svgs] == [
        "Open items at the end of each day",
        "Median time to decision, by day decided",
    ]
    assert all(s.get("role") == "img" for s in svgs)
    open_desc, median_desc = (s.find(f"{SVG}desc").text for s in svgs)
    assert "latest 1," in open_desc and "peak 1 " in open_desc
    assert "peak 6.0 h" in median_desc


def test_the_queue_page_query_count_does_not_grow_with_the_history(
    alice, client_for, django_assert_max_num_queries
):
    client = client_for(alice)
    now = timezone.now()

    def history(n: int) -> None:
        for i in range(n):
            created = now - timedelta(days=i % 40, hours=i % 7)
            item(created, created + timedelta(hours=1 + i % 5) if i % 3 else None)

    history(3)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/moderation/").status_code == 200
    history(60)
    with django_assert_max_num_queries(len(few)):
        page = client.get("/moderation/")
    assert page.status_code == 200
    assert sum(queue_trends().decided) > 20  # the new items are on the charts
