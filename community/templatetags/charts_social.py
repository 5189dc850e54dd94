"""{% load charts_social %}: the activity charts of model and creator pages."""

from __future__ import annotations

from datetime import date

from django import template
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from community.selectors import CHART_DAYS
from models_hub.charts import Series, fill_days, last_days, time_series_chart

register = template.Library()


@register.simple_tag
def downloads_chart(by_day: dict[date, int]) -> SafeString:
    days = last_days(CHART_DAYS)
    return time_series_chart(
        title=_("Downloads per day"),
        days=days,
        series=[Series(_("Downloads"), fill_days(by_day, days))],
        y_label=_("downloads"),
    )


@register.simple_tag
def reviews_chart(up: dict[date, int], down: dict[date, int]) -> SafeString:
    days = last_days(CHART_DAYS)
    return time_series_chart(
        title=_("Reviews per day"),
        days=days,
        series=[
            Series(_("Recommend"), fill_days(up, days), tone="good"),
            Series(_("Don't recommend"), fill_days(down, days), tone="bad"),
        ],
        kind="stacked",
        y_label=_("reviews"),
    )
