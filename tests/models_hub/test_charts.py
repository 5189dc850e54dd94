"""The SVG charts of models_hub/charts.py, read back as XML: where the bars and points land,
what the axes say, what a screen reader is told, and the awkward data (none, one day, zeros,
millions, gaps, markup in names)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import date

import pytest
from django.template import Context, Template
from django.utils import translation

from models_hub.charts import (
    BOTTOM,
    HEIGHT,
    MAX_BAR,
    TOP,
    Series,
    day_range,
    fill_days,
    last_days,
    nice_ticks,
    time_series_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
NOVEMBER = day_range(date(2024, 11, 1), date(2024, 11, 30))


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


class Chart:
    """A rendered chart, parsed: it must be well-formed XML to get this far."""

    def __init__(self, html: str):
        self.html = str(html)
        self.figure = ET.fromstring(self.html)
        self.svg = self.figure.find(f"{SVG}svg")

    def all(self, path: str) -> list[ET.Element]:
        return self.svg.findall(path.replace("svg:", SVG))

    @property
    def ticks(self) -> list[float]:
        return [
            float(line.get("data-value"))
            for line in self.all(".//svg:g[@class='chart-grid']/svg:line")
        ]

    @property
    def tick_labels(self) -> list[str]:
        return [t.text for t in self.all(".//svg:g[@class='chart-grid']/svg:text")]

    def y_of_tick(self, value: float) -> float:
        for line in self.all(".//svg:g[@class='chart-grid']/svg:line"):
            if float(line.get("data-value")) == value:
                return float(line.get("y1"))
        raise AssertionError(f"no tick at {value}")

    @property
    def baseline(self) -> float:
        return self.y_of_tick(0)

    @property
    def plot_top(self) -> float:
        return self.y_of_tick(self.ticks[-1])

    @property
    def bars(self) -> list[ET.Element]:
        return self.all(".//svg:g[@class]/svg:rect[@data-value]")

    def bar(self, day: date) -> ET.Element:
        (found,) = [b for b in self.bars if b.get("data-day") == day.isoformat()]
        return found

    @property
    def desc(self) -> str:
        return self.svg.find(f"{SVG}desc").text

    @property
    def title(self) -> str:
        return self.svg.find(f"{SVG}title").text

    @property
    def date_labels(self) -> list[str]:
        return [t.text for t in self.all(".//svg:g[@class='chart-dates']/svg:text")]

    def points(self) -> list[list[tuple[float, float]]]:
        runs = []
        for line in self.all(".//svg:polyline"):
            runs.append([tuple(map(float, p.split(","))) for p in line.get("points").split()])
        return runs


def top(bar: ET.Element) -> float:
    return float(bar.get("y"))


def bottom(bar: ET.Element) -> float:
    return float(bar.get("y")) + float(bar.get("height"))


def chart(values, *, days=None, **options) -> Chart:
    days = days or NOVEMBER[: len(values)]
    options.setdefault("title", "Downloads per day")
    series = options.pop("series", None) or [Series("Downloads", values)]
    return Chart(time_series_chart(days=days, series=series, **options))


def round_step(step: float) -> bool:
    """1, 2, 2.5 or 5 times a power of ten."""
    magnitude = 10 ** math.floor(math.log10(step))
    return any(math.isclose(step, f * magnitude) for f in (1, 2, 2.5, 5, 10))


# --- Geometry -------------------------------------------------------------------------------


def test_the_tallest_bar_reaches_the_top_of_the_plot_and_a_zero_day_sits_on_the_baseline():
    values = [10, 100, 0, 50] + [20] * 26
    c = chart(values)
    assert c.ticks == [0, 25, 50, 75, 100]
    tallest, zero, half = (c.bar(NOVEMBER[i]) for i in (1, 2, 3))
    assert top(tallest) == c.plot_top == min(top(b) for b in c.bars)
    assert top(zero) == bottom(zero) == c.baseline
    assert top(half) == pytest.approx((c.baseline + c.plot_top) / 2, abs=0.1)
    assert all(bottom(b) == c.baseline for b in c.bars)


def test_bars_follow_the_days_left_to_right_inside_the_plot():
    c = chart(list(range(1, 31)))
    xs = [float(c.bar(day).get("x")) for day in NOVEMBER]
    assert xs == sorted(xs) and len(set(xs)) == 30
    left = float(c.all(".//svg:g[@class='chart-grid']/svg:line")[0].get("x1"))
    assert xs[0] > left
    assert xs[-1] + float(c.bar(NOVEMBER[-1]).get("width")) < 600


@pytest.mark.parametrize(
    "largest, integers", [(98, True), (7, True), (1, True), (10, True), (13, True), (0.3, False),
                          (2.2, False), (12_345, True), (3_400_000, True), (999, True)],
)  # fmt: skip
def test_ticks_are_round_numbers_from_zero_covering_the_largest_value(largest, integers):
    ticks = nice_ticks(largest, integers=integers)
    step = ticks[1] - ticks[0]
    assert ticks[0] == 0 and ticks[-1] >= largest
    assert ticks[-2] < largest  # no empty band above the data
    assert all(math.isclose(b - a, step) for a, b in zip(ticks, ticks[1:], strict=False))
    assert round_step(step) and 2 <= len(ticks) <= 7
    if integers:
        assert all(float(t).is_integer() for t in ticks)


def test_a_peak_that_is_not_round_sits_below_the_round_top_tick():
    c = chart([98, 40, 3])
    assert c.ticks == [0, 25, 50, 75, 100]
    assert (c.plot_top, c.baseline) == (TOP, HEIGHT - BOTTOM)  # the top tick is the plot's top
    peak = c.bar(NOVEMBER[0])
    assert top(peak) == min(top(b) for b in c.bars)
    assert top(peak) == pytest.approx(c.baseline - 0.98 * (c.baseline - c.plot_top), abs=0.1)


def test_a_line_runs_through_each_day_and_breaks_at_a_gap():
    values = [4, 0, 8, None, 2, 6, None, 5, None]
    c = chart(values, kind="line", additive=False)
    first, second = c.points()
    assert [y for _, y in first] == [c.baseline - 0.5 * (c.baseline - c.plot_top), c.baseline,
                                     c.plot_top]  # fmt: skip
    assert len(second) == 2
    assert [x for x, _ in first + second] == sorted(x for x, _ in first + second)
    (dot,) = c.all(".//svg:circle")  # the 8th day stands alone: a dot, not an invisible line
    assert float(dot.get("cy")) == pytest.approx(
        c.baseline - 5 / 8 * (c.baseline - c.plot_top), abs=0.1
    )
    # One area under the one series, per run.
    assert len(c.all(".//svg:polygon")) == 2


def test_stacked_bars_sit_on_each_other_and_reach_the_days_total():
    good, bad = [3, 0, 6, 2], [1, 2, 2, 0]
    c = chart(None, days=NOVEMBER[:4], kind="stacked",
              series=[Series("Recommend", good, tone="good"),
                      Series("Not recommended", bad, tone="bad")])  # fmt: skip
    assert c.ticks[-1] == 8
    by_series = [
        g.findall(f"{SVG}rect") for g in c.all(".//svg:g") if "chart-bars" in g.get("class", "")
    ]
    lower, upper = by_series
    for low, high in zip(lower, upper, strict=True):
        assert bottom(low) == c.baseline
        assert bottom(high) == pytest.approx(top(low), abs=0.1)
    assert top(upper[2]) == c.plot_top  # 6 + 2, the largest total
    assert "chart-good" in c.html and "chart-bad" in c.html


def test_two_series_as_bars_stand_side_by_side():
    c = chart(None, days=NOVEMBER[:3],
              series=[Series("A", [1, 2, 3]), Series("B", [3, 2, 1])])  # fmt: skip
    for day in NOVEMBER[:3]:
        a, b = (r for r in c.bars if r.get("data-day") == day.isoformat())
        assert float(a.get("x")) + float(a.get("width")) <= float(b.get("x"))


# --- Awkward data ---------------------------------------------------------------------------


@pytest.mark.parametrize("days, values", [([], []), (NOVEMBER[:5], [None] * 5)])
def test_no_data_says_so_instead_of_drawing_axes(days, values):
    c = chart(values, days=days)
    assert c.svg.get("role") == "img"
    assert [t.text for t in c.all(".//svg:text")] == ["No data yet"]
    assert c.bars == [] and c.ticks == []
    assert c.desc == "Downloads per day: no data yet."
    assert c.figure.find("details") is None


def test_a_single_day_is_one_bar_or_one_dot_in_the_middle():
    c = chart([5], days=[date(2024, 11, 30)])
    (bar,) = c.bars
    assert top(bar) < c.baseline and float(bar.get("width")) <= MAX_BAR
    centre = float(bar.get("x")) + float(bar.get("width")) / 2
    left = float(c.all(".//svg:g[@class='chart-grid']/svg:line")[0].get("x1"))
    assert centre == pytest.approx((left + 592) / 2, abs=1)
    assert c.date_labels == ["Nov 30"]
    assert "total 5, peak 5 on November 30" in c.desc
    line = chart([5], days=[date(2024, 11, 30)], kind="line")
    assert line.points() == [] and len(line.all(".//svg:circle")) == 1


def test_all_zeros_draw_flat_on_the_baseline_with_a_sensible_axis():
    c = chart([0] * 30)
    assert c.ticks == [0, 1]
    assert all(top(b) == bottom(b) == c.baseline for b in c.bars) and len(c.bars) == 30
    assert c.desc == "Downloads per day, November 1 to November 30: total 0."


def test_huge_numbers_are_abbreviated_on_the_axis_and_written_out_in_the_description():
    c = chart([3_400_000, 1_200_000, 0])
    assert c.tick_labels == ["0", "1M", "2M", "3M", "4M"]
    assert "total 4,600,000, peak 3,400,000 on November 1" in c.desc
    assert chart([12_345, 200]).tick_labels == ["0", "5k", "10k", "15k"]
    assert chart([9_000, 200]).tick_labels == ["0", "2.5k", "5k", "7.5k", "10k"]
    assert chart([2_100_000_000]).tick_labels == ["0", "1B", "2B", "3B"]
    assert chart([1_000]).tick_labels == ["0", "250", "500", "750", "1k"]
    assert chart([1_400_000]).tick_labels == ["0", "500k", "1M", "1.5M"]


def test_small_values_keep_their_decimals_and_a_non_zero_sliver_stays_visible():
    c = chart([0.3, 0.05, None], kind="bars", unit="h", decimals=1, additive=False)
    assert c.tick_labels == ["0", "0.1", "0.2", "0.3"]
    assert "latest 0.1 h on November 2, peak 0.3 h on November 1" in c.desc
    sliver = chart([1_000_000, 1]).bar(NOVEMBER[1])
    assert float(sliver.get("height")) >= 1


def test_fill_days_makes_a_dense_series_with_zeros_or_gaps():
    days = day_range(date(2024, 11, 1), date(2024, 11, 5))
    sparse = {date(2024, 11, 2): 7, date(2024, 11, 5): 1, date(2024, 10, 1): 99}
    assert fill_days(sparse, days) == [0, 7, 0, 0, 1]
    assert fill_days(sparse, days, missing=None) == [None, 7, None, None, 1]
    assert last_days(3, today=date(2024, 3, 1)) == [date(2024, 2, 28), date(2024, 2, 29),
                                                    date(2024, 3, 1)]  # fmt: skip
    assert day_range(date(2024, 11, 5), date(2024, 11, 1)) == []


def test_values_that_do_not_fit_the_days_are_refused():
    with pytest.raises(ValueError, match="3 values for 2 days"):
        chart([1, 2, 3], days=NOVEMBER[:2])
    with pytest.raises(ValueError, match="negative"):
        chart([1, -2])
    with pytest.raises(ValueError, match="tone"):
        chart(None, days=NOVEMBER[:1], series=[Series("x", [1], tone="red; x")])


# --- What people and screen readers are told -----------------------------------------------


def test_the_chart_is_an_image_titled_and_described_by_its_own_elements():
    c = chart([3, 98, 0] + [1] * 27)
    assert c.svg.get("role") == "img"
    assert c.svg.get("width") == "100%" and c.svg.get("viewBox") == "0 0 600 240"
    title_id, desc_id = c.svg.get("aria-labelledby").split()
    assert c.svg.find(f"{SVG}title").get("id") == title_id
    assert c.svg.find(f"{SVG}desc").get("id") == desc_id
    assert c.title == "Downloads per day"
    assert c.desc == (
        "Downloads per day, November 1 to November 30: total 128, peak 98 on November 2."
    )
    # Colours come from the style sheet, never from the markup.
    fills = {e.get("fill") for e in c.svg.iter() if e.get("fill")}
    assert fills <= {"currentColor", "transparent", "none"}
    assert "style=" not in c.html


def test_the_numbers_are_in_a_table_under_details():
    c = chart(None, days=NOVEMBER[:3], unit="h", decimals=1, additive=False,
              series=[Series("Median", [1.24, None, 30])])  # fmt: skip
    table = c.figure.find("details/table")
    assert [th.text for th in table.findall("thead/tr/th")] == ["Day", "Median"]
    rows = [[cell.text for cell in tr] for tr in table.findall("tbody/tr")]
    assert rows == [["Nov. 1, 2024", "1.2 h"], ["Nov. 2, 2024", "–"], ["Nov. 3, 2024", "30.0 h"]]


def test_the_desc_names_each_series_and_the_legend_shows_them():
    c = chart(None, days=NOVEMBER[:2], kind="stacked",
              series=[Series("Recommend", [2, 3]), Series("Not", [0, 1])])  # fmt: skip
    assert c.desc == (
        "Downloads per day, November 1 to November 2: Recommend: total 5, peak 3 on "
        "November 2; Not: total 1, peak 1 on November 2."
    )
    legend = c.figure.find("figcaption/span[@class='chart-legend']")
    assert legend.get("aria-hidden") == "true"
    assert [k.text if k.text else "".join(k.itertext()) for k in legend] == ["Recommend", "Not"]


def test_the_latest_day_is_always_labelled_on_the_date_axis():
    c = chart([1] * 30)
    assert c.date_labels[0] == "Nov 30" and len(c.date_labels) == 5


def test_text_from_outside_is_escaped():
    evil = '<script>alert("x")</script> & co'
    c = chart(None, days=NOVEMBER[:2], title=evil, y_label=evil, unit=evil,
              series=[Series(evil, [1, 2]), Series("ok", [2, 1])])  # fmt: skip
    assert "<script" not in c.html
    assert "&lt;script&gt;" in c.html
    assert c.title == evil  # parsed back, the text is what was given
    assert evil in c.desc
    assert c.figure.find(".//script") is None


def test_dates_and_numbers_follow_the_language():
    values = [1234, 0, 5]
    with translation.override("ja"):
        ja = chart(values)
    assert "11月1日" in ja.desc and "1,234" in ja.desc
    with translation.override("de"):
        de = chart([2.5, 1234.5], unit="h", decimals=1, additive=False)
    assert "1.234,5 h" in de.desc
    with translation.override("de"):
        assert chart([9_000]).tick_labels[1] == "2,5k"


def test_formatted_dates_and_numbers_are_kept_per_language():
    """charts.py keeps the texts it formats: each language gets its own, in any order."""
    values = [1234.5, 0, 5]
    expected = [
        ("en", "November 1", "1,234.5"),
        ("de", "1. November", "1.234,5"),
        ("ja", "11月1日", "1,234.5"),
        ("en", "November 1", "1,234.5"),
    ]
    for language, day, number in expected:
        with translation.override(language):
            desc = chart(values, decimals=1).desc
        assert day in desc and number in desc, (language, desc)


def test_the_template_tag_draws_a_chart():
    html = Template(
        '{% load charts %}{% daily_chart "Downloads per day" days values name="Downloads" %}'
    ).render(Context({"days": NOVEMBER[:3], "values": [1, 2, 3]}))
    c = Chart(html)
    assert c.title == "Downloads per day" and len(c.bars) == 3
