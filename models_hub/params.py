"""Lenient parsing of ids from query strings and forms: bad values are None, never a 500."""

from __future__ import annotations

MAX_ID = 2**63 - 1


def parse_count(raw: str | None) -> int | None:
    """A whole number from text, 0 included (offsets, sizes), or None."""
    if not raw or not raw.isascii() or not raw.isdigit():
        return None
    value = int(raw)
    return value if value <= MAX_ID else None


def parse_id(raw: str | None) -> int | None:
    """A positive database id from text, or None. Only ASCII digits count ("²" is no id)."""
    if not raw or not raw.isascii() or not raw.isdigit():
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None
