"""{% load charts %}: the charts of models_hub/charts.py, from a template.

{% daily_chart _("Downloads per day") days downloads name=_("Downloads") %}
{% daily_chart _("Reviews per day") days series=review_series kind="stacked" %}
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django import template
from django.utils.safestring import SafeString

from models_hub.charts import Number, Series, time_series_chart

register = template.Library()


@register.simple_tag
def daily_chart(
    title: str,
    days: Sequence[date],
    values: Sequence[Number | None] | None = None,
    *,
    name: str = "",
    series: Sequence[Series] | None = None,
    kind: str = "bars",
    y_label: str = "",
    unit: str = "",
    decimals: int = 0,
    additive: bool = True,
    tone: str = "",
) -> SafeString:
    """One series from `values` (called `name`, the title by default), or `series` as given.
    The other options are time_series_chart's."""
    if series is None:
        if values is None:
            raise template.TemplateSyntaxError("daily_chart needs values or series=.")
        series = [Series(name or title, values, tone=tone)]
    return time_series_chart(
        title=title, days=days, series=series, kind=kind, y_label=y_label, unit=unit,
        decimals=decimals, additive=additive,
    )  # fmt: skip
