"""config.renderers.FastJSONRenderer: the API's JSON written by orjson, byte for byte what DRF's
JSONRenderer writes (clients may compare or hash answers), and DRF's own for an indented
answer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer

from config.renderers import FastJSONRenderer

SAMPLE = {
    "name": "Aquarelle ü 水彩 🎨",
    "status": gettext_lazy("Published"),
    "separators": "line\u2028paragraph\u2029end",
    "quote": 'say "hi" \\ <b>',
    "sizeKB": 1205.6572265625,
    "count": 2**53 + 1,
    "price": Decimal("1.25"),
    "when": datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC),
    "elsewhere": datetime(2026, 11, 25, 21, 0, tzinfo=timezone(timedelta(hours=9))),
    "day": date(2026, 11, 25),
    "id": UUID("12345678-1234-5678-1234-567812345678"),
    7: "a number as key",
    "nothing": None,
    "flags": [True, False],
    "nested": {"list": [1, 2.5, {"deep": []}], "empty": {}},
}


def test_it_writes_the_same_bytes_as_drf():
    assert FastJSONRenderer().render(SAMPLE) == JSONRenderer().render(SAMPLE)
    assert FastJSONRenderer().render([]) == b"[]"
    assert FastJSONRenderer().render(None) == JSONRenderer().render(None) == b""


def test_an_indented_answer_is_drfs():
    asked = "application/json; indent=2"
    indented = FastJSONRenderer().render(SAMPLE, asked, {})
    assert indented == JSONRenderer().render(SAMPLE, asked, {})
    assert b'\n  "name"' in indented
