"""Charts drawn on the server as inline SVG: no JavaScript, no chart library, and readable by a
screen reader (the SVG is an image whose title and description summarise the data, and the
numbers themselves are in a table under a <details>).

Everything here is a pure function of its arguments, except that words go through gettext and
dates and numbers through Django's localisation, so call them inside a request (or under
`translation.override`). Colours come from CSS classes in static/css/charts.css and from
`currentColor`, so a chart follows the page's light or dark theme.

Typical use, downloads per day over the last 30 days:

    days = last_days(30)
    chart = time_series_chart(
        title=_("Downloads per day"), days=days,
        series=[Series(_("Downloads"), fill_days(downloads_by_day, days))],
    )
"""

from __future__ import annotations

import functools
import hashlib
import math
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from django.utils import formats, timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext, pgettext

Number = int | float
Kind = Literal["bars", "stacked", "line"]
Scale = Callable[[Number], float]
TONES = ("", "good", "bad", "muted")

# The drawing's own coordinates; the SVG scales to its container's width.
WIDTH = 600
HEIGHT = 240
TOP = 12  # room for half the top tick label
RIGHT = 8
BOTTOM = 30  # the date labels hang below the baseline
# Text is 12 units high on a wide screen and 19 on a phone (charts.css), where the drawing is
# shrunk to about half; margins and label spacing are worked out for the larger size.
LARGEST_FONT = 19
MAX_BAR = 40  # a week of data should not look like a wall


@dataclass(frozen=True)
class Series:
    """One line or one set of bars: a value for each day of the chart (None: nothing known
    that day, drawn as a gap, unlike 0). Values are never negative. `tone` picks a colour
    with a meaning ("good", "bad", "muted"); by default each series takes the next colour."""

    name: str
    values: Sequence[Number | None]
    tone: str = ""


def day_range(start: date, end: date) -> list[date]:
    """Every day from `start` to `end`, both included."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def last_days(n: int, *, today: date | None = None) -> list[date]:
    """The `n` days ending today (in the current time zone), oldest first."""
    today = today or timezone.localdate()
    return day_range(today - timedelta(days=n - 1), today)


def fill_days(
    values: Mapping[date, Number | None], days: Sequence[date], *, missing: Number | None = 0
) -> list[Number | None]:
    """A value for each of `days`, from a sparse {day: value} (what a GROUP BY day returns):
    a day without a row is `missing`. Counts want 0 there; a median or mean wants None, since
    a day without decisions did not take zero hours."""
    return [values.get(day, missing) for day in days]


def time_series_chart(
    *,
    title: str,
    days: Sequence[date],
    series: Sequence[Series],
    kind: Kind = "bars",
    y_label: str = "",
    unit: str = "",
    decimals: int = 0,
    additive: bool = True,
    chart_id: str = "",
) -> SafeString:
    """A chart of one or more series over consecutive days, as a <figure> holding the SVG, a
    legend and the numbers in a table.

    kind: "bars" (side by side when there are several series), "stacked" (bars on top of each
    other: parts of a whole, like recommending and not), or "line".
    y_label: what the values are ("downloads", "hours"), shown above the axis.
    unit and decimals: how values read in the description and the table ("4.5 h").
    additive: whether adding the days up means something; the description then gives the
    total (downloads, reviews), otherwise the latest value (a queue's size, a median).
    chart_id: the prefix of the ids inside; by default one derived from the content, so set
    it when a page shows two charts of exactly the same data.
    """
    days = list(days)
    if not series:
        raise ValueError("A chart needs at least one series.")
    for s in series:
        if len(s.values) != len(days):
            raise ValueError(f"Series {s.name!r} has {len(s.values)} values for {len(days)} days.")
        if any(v is not None and v < 0 for v in s.values):
            raise ValueError(f"Series {s.name!r} has a negative value.")
        if s.tone not in TONES:
            raise ValueError(f"Unknown tone {s.tone!r}.")
    if kind not in ("bars", "stacked", "line"):
        raise ValueError(f"Unknown kind {kind!r}.")
    chart_id = chart_id or _content_id(title, days, series)
    fmt = _ValueFormat(unit=unit, decimals=decimals)
    has_data = bool(days) and any(v is not None for s in series for v in s.values)

    desc = _description(title, days, series, fmt, additive) if has_data else _no_data(title)
    if has_data:
        svg = _svg(chart_id, title, desc, days, series, kind, fmt)
    else:
        svg = _empty_svg(chart_id, title, desc)
    parts = ['<figure class="chart">']
    parts.append(_caption(title, y_label, series, kind))
    parts.append(svg)
    if has_data:
        parts.append(_table(days, series, fmt))
    parts.append("</figure>")
    return mark_safe("".join(parts))  # every text value went through escape()


# --- Scales and labels -------------------------------------------------------------------------


def nice_ticks(largest: Number, *, integers: bool = True, target: int = 4) -> list[Number]:
    """Round tick values from 0 to a round number at or above `largest`: 0, 25, 50, 75, 100
    for 98. With `integers`, no step below 1 and no 2.5 (counts have no half items)."""
    if largest <= 0:
        return [0, 1]
    raw = largest / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = 0.0
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * magnitude
        if integers and not float(step).is_integer():
            continue
        if step >= raw * (1 - 1e-9):
            break
    if integers:
        step = max(1, round(step))
    count = math.ceil(largest / step - 1e-9)
    ticks: list[Number] = [_clean(i * step) for i in range(count + 1)]
    return ticks


def _clean(value: float) -> Number:
    """0.30000000000000004 -> 0.3, 5.0 -> 5."""
    value = round(value, 9)
    return int(value) if float(value).is_integer() else value


ABBREVIATIONS = (
    (1_000_000_000, lambda n: pgettext("billions, in a chart's axis labels", "%(number)sB") % n),
    (1_000_000, lambda n: pgettext("millions, in a chart's axis labels", "%(number)sM") % n),
    (1_000, lambda n: pgettext("thousands, in a chart's axis labels", "%(number)sk") % n),
)


def tick_label(value: Number) -> str:
    """A tick's label, short: 750, 2.5k, 1.2M."""
    for size, abbreviate in ABBREVIATIONS:
        if value >= size:
            return abbreviate({"number": _short(value / size)})
    return _short(value)


def _short(value: Number) -> str:
    for decimals in range(4):
        if abs(round(value, decimals) - value) < 1e-9:
            return _number_text(round(value, decimals), decimals)
    return _number_text(value, 3)


@dataclass(frozen=True)
class _ValueFormat:
    unit: str
    decimals: int

    def __call__(self, value: Number) -> str:
        # number_format cuts a float's decimals off; 0.05 should read 0.1, not 0.0.
        value = round(value, self.decimals)
        text = _number_text(value, self.decimals)
        return f"{text} {self.unit}" if self.unit else text


# A page's two charts format each of 30 days and 60 values several times (axis, table,
# titles, summary), and Django's localized formatting costs 10-30 µs a call: 4.3 ms of a
# model page went to its charts (docs/PERFORMANCE.md). The same texts repeat from page to
# page, so they are kept per language.
def _date_text(day: date, form: str) -> str:
    """`day` in the active language's `form` (a format name or Django date syntax)."""
    return _date_text_in(day, form, get_language())


def _number_text(value: Number, decimals: int) -> str:
    """`value` with `decimals` and the active language's grouping."""
    return _number_text_in(value, decimals, get_language())


# `language` only keys the cache: Django formats in the active language, which it names.
@functools.lru_cache(maxsize=2048)
def _date_text_in(day: date, form: str, language: str) -> str:
    return formats.date_format(day, form, use_l10n=True)


@functools.lru_cache(maxsize=2048)
def _number_text_in(value: Number, decimals: int, language: str) -> str:
    return formats.number_format(value, decimals, use_l10n=True, force_grouping=True)


def axis_date(day: date) -> str:
    # Translators: a short date under a chart's axis, in Django's date format syntax
    # (https://docs.djangoproject.com/en/stable/ref/templates/builtins/#date), e.g. "n/j".
    return _date_text(day, pgettext("chart axis date format", "M j"))


def long_date(day: date) -> str:
    return _date_text(day, "DATE_FORMAT")


def _period(days: list[date]) -> tuple[str, str]:
    if days[0].year == days[-1].year:
        return (_date_text(days[0], "MONTH_DAY_FORMAT"),
                _date_text(days[-1], "MONTH_DAY_FORMAT"))  # fmt: skip
    return long_date(days[0]), long_date(days[-1])


def _text_width(text: str, font: float = LARGEST_FONT) -> float:
    """Roughly how wide `text` is drawn: SVG cannot measure, so wide (CJK) characters count
    one em and the others a little over half."""
    return sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.6 for c in text) * font


def _n(value: float) -> str:
    """A coordinate, short: 12.0 -> "12", 3.14159 -> "3.1"."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


# --- Words ---------------------------------------------------------------------------------------


def _no_data(title: str) -> str:
    return gettext("%(title)s: no data yet.") % {"title": title}


def _description(
    title: str, days: list[date], series: Sequence[Series], fmt: _ValueFormat, additive: bool
) -> str:
    start, end = _period(days)
    summaries = []
    for s in series:
        summary = _summary(days, s, fmt, additive)
        if len(series) > 1:
            summary = gettext("%(name)s: %(summary)s") % {"name": s.name, "summary": summary}
        summaries.append(summary)
    return gettext("%(title)s, %(start)s to %(end)s: %(summary)s.") % {
        "title": title,
        "start": start,
        "end": end,
        "summary": gettext("; ").join(summaries),
    }


def _summary(days: list[date], s: Series, fmt: _ValueFormat, additive: bool) -> str:
    known = [(day, v) for day, v in zip(days, s.values, strict=True) if v is not None]
    if not known:
        return gettext("no data")
    peak_day, peak = max(known, key=lambda dv: dv[1])  # the first of equal peaks
    peak_text = gettext("peak %(value)s on %(day)s") % {
        "value": fmt(peak),
        "day": _date_text(peak_day, "MONTH_DAY_FORMAT"),
    }
    if additive:
        total = gettext("total %(value)s") % {"value": fmt(sum(v for _, v in known))}
        return total if peak == 0 else _pair(total, peak_text)
    latest_day, latest = known[-1]
    if latest_day == days[-1]:
        latest_text = gettext("latest %(value)s") % {"value": fmt(latest)}
    else:
        latest_text = gettext("latest %(value)s on %(day)s") % {
            "value": fmt(latest),
            "day": _date_text(latest_day, "MONTH_DAY_FORMAT"),
        }
    return latest_text if peak == 0 else _pair(latest_text, peak_text)


def _pair(first: str, second: str) -> str:
    return pgettext("two facts about one series in a chart's summary", "%(first)s, %(second)s") % {
        "first": first,
        "second": second,
    }


# --- Markup --------------------------------------------------------------------------------------


def _content_id(title: str, days: list[date], series: Sequence[Series]) -> str:
    digest = hashlib.sha1(
        repr((title, days[:1], days[-1:], [(s.name, list(s.values)) for s in series])).encode(),
        usedforsecurity=False,
    )
    return "chart-" + digest.hexdigest()[:10]


def _series_class(index: int, s: Series) -> str:
    return f"chart-s{index + 1}" + (f" chart-{s.tone}" if s.tone else "")


def _caption(title: str, y_label: str, series: Sequence[Series], kind: Kind) -> str:
    # The legend repeats what the SVG's description says, so screen readers skip it.
    parts = [
        '<figcaption class="chart-caption">',
        f'<span class="chart-title">{escape(title)}</span>',
    ]
    if len(series) > 1:
        parts.append('<span class="chart-legend" aria-hidden="true">')
        for i, s in enumerate(series):
            shape = "line" if kind == "line" else "box"
            parts.append(
                f'<span class="chart-key {_series_class(i, s)}">'
                f'<span class="chart-swatch chart-swatch-{shape}"></span>{escape(s.name)}</span>'
            )
        parts.append("</span>")
    if y_label:
        parts.append(f'<span class="chart-unit" aria-hidden="true">{escape(y_label)}</span>')
    parts.append("</figcaption>")
    return "".join(parts)


def _open_svg(chart_id: str, title: str, desc: str) -> str:
    cid = escape(chart_id)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'aria-labelledby="{cid}-title {cid}-desc" font-size="12" fill="currentColor">'
        f'<title id="{cid}-title">{escape(title)}</title>'
        f'<desc id="{cid}-desc">{escape(desc)}</desc>'
    )


def _empty_svg(chart_id: str, title: str, desc: str) -> str:
    # Outside the f-string: xgettext does not look into f-strings' expressions.
    no_data = gettext("No data yet")
    return (
        _open_svg(chart_id, title, desc)
        + f'<line class="chart-axis" x1="{RIGHT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" '
        f'y2="{HEIGHT - BOTTOM}" stroke="currentColor"/>'
        f'<text class="chart-empty" x="{WIDTH // 2}" y="{(HEIGHT - BOTTOM) // 2}" '
        f'text-anchor="middle" dy="0.35em">{escape(no_data)}</text></svg>'
    )


def _svg(
    chart_id: str,
    title: str,
    desc: str,
    days: list[date],
    series: Sequence[Series],
    kind: Kind,
    fmt: _ValueFormat,
) -> str:
    if kind == "stacked":
        largest = max(sum(s.values[i] or 0 for s in series) for i in range(len(days)))
    else:
        largest = max(v for s in series for v in s.values if v is not None)
    integers = all(float(v).is_integer() for s in series for v in s.values if v is not None)
    ticks = nice_ticks(largest, integers=integers)
    top = ticks[-1]
    labels = [tick_label(t) for t in ticks]
    left = max(_text_width(label) for label in labels) + 10
    base, height = HEIGHT - BOTTOM, HEIGHT - BOTTOM - TOP
    band = (WIDTH - RIGHT - left) / len(days)

    def y(value: Number) -> float:
        return base - value / top * height

    out = [_open_svg(chart_id, title, desc)]
    out.append('<g class="chart-grid">')
    for tick, label in zip(ticks, labels, strict=True):
        out.append(
            f'<line x1="{_n(left)}" x2="{WIDTH - RIGHT}" y1="{_n(y(tick))}" y2="{_n(y(tick))}" '
            f'data-value="{tick}"/>'
            f'<text class="chart-tick" x="{_n(left - 6)}" y="{_n(y(tick))}" dy="0.35em" '
            f'text-anchor="end">{escape(label)}</text>'
        )
    out.append("</g>")
    out.append(_x_labels(days, left, band, base))
    if kind == "line":
        out.append(_lines(series, left, band, y))
    else:
        out.append(_bars(days, series, kind, left, band, y))
    out.append(
        f'<line class="chart-axis" x1="{_n(left)}" x2="{WIDTH - RIGHT}" y1="{base}" '
        f'y2="{base}" stroke="currentColor"/>'
    )
    out.append(_hit_areas(days, series, left, band, fmt))
    out.append("</svg>")
    return "".join(out)


def _x_labels(days: list[date], left: float, band: float, base: float) -> str:
    n = len(days)
    step = 1 if n <= 8 else 2 if n <= 16 else 7 if n <= 62 else 7 * math.ceil(n / 42)
    # Counted back from the last day: the most recent day is the one people look for.
    out = ['<g class="chart-dates">']
    for i in range(n - 1, -1, -step):
        label = axis_date(days[i])
        x = left + (i + 0.5) * band
        half = _text_width(label) / 2
        anchor = "middle"
        if x + half > WIDTH:
            x, anchor = WIDTH - 1, "end"
        elif x - half < 0:
            x, anchor = 1, "start"
        out.append(
            f'<text class="chart-tick" x="{_n(x)}" y="{base + 6}" dy="0.9em" '
            f'text-anchor="{anchor}">{escape(label)}</text>'
        )
    out.append("</g>")
    return "".join(out)


def _bars(
    days: list[date], series: Sequence[Series], kind: Kind, left: float, band: float, y: Scale
) -> str:
    base = y(0)
    width = min(band * 0.72, MAX_BAR * (len(series) if kind == "bars" else 1))
    out = []
    for index, s in enumerate(series):
        out.append(f'<g class="chart-bars {_series_class(index, s)}">')
        for i, value in enumerate(s.values):
            if value is None:
                continue
            x = left + i * band + (band - width) / 2
            w = width
            if kind == "bars":
                w = width / len(series)
                x += index * w
                bottom = base
            else:
                bottom = y(sum(other.values[i] or 0 for other in series[:index]))
            top_y = y(value) - (base - bottom)
            # A small non-zero value still shows as a sliver: "some" differs from "none".
            if value and bottom - top_y < 1:
                top_y = bottom - 1
            out.append(
                f'<rect x="{_n(x)}" y="{_n(top_y)}" width="{_n(max(w - 1, 1))}" '
                f'height="{_n(bottom - top_y)}" data-day="{days[i].isoformat()}" '
                f'data-value="{value}"/>'
            )
        out.append("</g>")
    return "".join(out)


def _lines(series: Sequence[Series], left: float, band: float, y: Scale) -> str:
    out = []
    base = y(0)
    for index, s in enumerate(series):
        # A gap (None) breaks the line into runs; a run of one day is drawn as a dot.
        runs: list[list[tuple[float, float]]] = [[]]
        for i, value in enumerate(s.values):
            if value is None:
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append((left + (i + 0.5) * band, y(value)))
        out.append(f'<g class="chart-lines {_series_class(index, s)}">')
        for run in runs:
            if len(run) == 1:
                (px, py) = run[0]
                out.append(f'<circle class="chart-dot" cx="{_n(px)}" cy="{_n(py)}" r="3.5"/>')
            elif run:
                points = " ".join(f"{_n(px)},{_n(py)}" for px, py in run)
                if len(series) == 1:  # shading under several lines would muddy them
                    area = f"{_n(run[0][0])},{_n(base)} {points} {_n(run[-1][0])},{_n(base)}"
                    out.append(f'<polygon class="chart-area" points="{area}"/>')
                out.append(
                    f'<polyline class="chart-line" points="{points}" fill="none" '
                    f'stroke="currentColor" stroke-width="2"/>'
                )
        out.append("</g>")
    return "".join(out)


def _hit_areas(
    days: list[date], series: Sequence[Series], left: float, band: float, fmt: _ValueFormat
) -> str:
    """A column per day whose tooltip gives that day's numbers, for a pointer hovering it."""
    out = ['<g class="chart-hits">']
    for i, day in enumerate(days):
        text = ", ".join(
            f"{s.name}: {'–' if s.values[i] is None else fmt(s.values[i])}" for s in series
        )
        out.append(
            f'<rect x="{_n(left + i * band)}" y="0" width="{_n(band)}" height="{HEIGHT - BOTTOM}" '
            f'fill="transparent"><title>{escape(axis_date(day))} · {escape(text)}</title></rect>'
        )
    out.append("</g>")
    return "".join(out)


def _table(days: list[date], series: Sequence[Series], fmt: _ValueFormat) -> str:
    # Outside the f-string: xgettext does not look into f-strings' expressions.
    day_header = gettext("Day")
    out = [
        '<details class="chart-data"><summary>',
        escape(gettext("The numbers")),
        "</summary><table><thead><tr>",
        f'<th scope="col">{escape(day_header)}</th>',
    ]
    out.extend(f'<th scope="col">{escape(s.name)}</th>' for s in series)
    out.append("</tr></thead><tbody>")
    for i, day in enumerate(days):
        out.append(f'<tr><th scope="row">{escape(long_date(day))}</th>')
        for s in series:
            value = s.values[i]
            out.append(f"<td>{'–' if value is None else escape(fmt(value))}</td>")
        out.append("</tr>")
    out.append("</tbody></table></details>")
    return "".join(out)
