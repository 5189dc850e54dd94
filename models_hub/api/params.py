"""Query parameters as Civitai's clients send them, parsed leniently where clients are sloppy
and strictly where a wrong guess would mislead.

Lenient: `pageSize` for `limit`, `types[]` for `types`, repeated or comma-separated lists,
"true"/"false"/"1"/"0" for booleans, enum values in any case. Strict: a number out of range,
an unknown enum value or a bad cursor is a 400 naming the parameter and what it accepts
(BAD_INPUTS row 33), never a silently different answer.
"""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.exceptions import ParseError

from models_hub.choices import NsfwLevel
from models_hub.params import parse_count, parse_id

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
MAX_LIST_ITEMS = 100

# Civitai's old image levels, each opening everything up to it.
NSFW_NAMES = {
    "none": NsfwLevel.PG,
    "soft": NsfwLevel.PG | NsfwLevel.PG13,
    "mature": NsfwLevel.PG | NsfwLevel.PG13 | NsfwLevel.R,
    "x": NsfwLevel.PG | NsfwLevel.PG13 | NsfwLevel.R | NsfwLevel.X | NsfwLevel.XXX,
}
ALL_VIEWABLE = NSFW_NAMES["x"]


class BadParam(ParseError):
    """A 400 whose message names the parameter (the API's handler makes it {"error": ...})."""


def _no_nul(name: str, value: str) -> str:
    # PostgreSQL cannot hold a NUL in a text value: refuse it here rather than fail there.
    if "\x00" in value:
        raise BadParam(f"{name} contains a NUL character.")
    return value


class ApiParams:
    def __init__(self, query_params) -> None:
        self._params = query_params

    def raw(self, *names: str) -> str | None:
        """The first of `names` given (aliases: `limit`/`pageSize`), stripped; or None."""
        for name in names:
            for key in (name, f"{name}[]"):
                if key in self._params:
                    return _no_nul(name, self._params.get(key, "")).strip()
        return None

    def text(self, name: str, max_length: int = 200) -> str:
        value = self.raw(name) or ""
        if len(value) > max_length:
            raise BadParam(f"{name} may be at most {max_length} characters long.")
        return value

    def strings(self, name: str) -> list[str]:
        """Repeated (`types=A&types=B`), bracketed (`types[]=A`) or comma-separated."""
        values: list[str] = []
        for key in (name, f"{name}[]"):
            for raw in self._params.getlist(key):
                raw = _no_nul(name, raw)
                values += [part.strip() for part in raw.split(",") if part.strip()]
        if len(values) > MAX_LIST_ITEMS:
            raise BadParam(f"{name} takes at most {MAX_LIST_ITEMS} values.")
        return values

    def choices(self, name: str, allowed: Iterable[str]) -> list[str]:
        """Values of an enum, matched without regard to case, returned as spelled here."""
        by_fold = {value.casefold(): value for value in allowed}
        chosen = []
        for value in self.strings(name):
            if value.casefold() not in by_fold:
                raise BadParam(
                    f"{name} has an unknown value “{value[:40]}”; use one of: "
                    + ", ".join(by_fold.values())
                    + "."
                )
            chosen.append(by_fold[value.casefold()])
        return chosen

    def choice(self, name: str, allowed: Iterable[str], default: str) -> str:
        chosen = self.choices(name, allowed)
        return chosen[0] if chosen else default

    def ids(self, name: str) -> list[int]:
        ids = []
        for value in self.strings(name):
            parsed = parse_id(value)
            if parsed is None:
                raise BadParam(f"{name} takes positive whole numbers, not “{value[:40]}”.")
            ids.append(parsed)
        return ids

    def id(self, name: str) -> int | None:
        raw = self.raw(name)
        if not raw:
            return None
        parsed = parse_id(raw)
        if parsed is None:
            raise BadParam(f"{name} must be a positive whole number.")
        return parsed

    def boolean(self, *names: str) -> bool | None:
        raw = self.raw(*names)
        if raw is None or raw == "":
            return None
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise BadParam(f"{names[0]} must be true or false.")

    def number(self, names: tuple[str, ...], default: int, low: int, high: int) -> int:
        raw = self.raw(*names)
        if raw is None or raw == "":
            return default
        value = parse_count(raw)
        if value is None or not low <= value <= high:
            raise BadParam(f"{names[0]} must be a whole number from {low} to {high}.")
        return value

    def nsfw_levels(self, allowed: int) -> int:
        """The NSFW levels asked for (`nsfw` as a boolean, one of Civitai's names or a level
        number; or `browsingLevel` as a bitmask), never beyond `allowed`. PG by default."""
        asked = NsfwLevel.PG
        raw_mask = self.raw("browsingLevel")
        if raw_mask:
            mask = parse_count(raw_mask)
            if mask is None or mask > ALL_VIEWABLE:
                raise BadParam(f"browsingLevel must be a bitmask from 1 to {ALL_VIEWABLE}.")
            asked = mask
        raw = (self.raw("nsfw") or "").casefold()
        if raw in _TRUE:
            asked = ALL_VIEWABLE
        elif raw in NSFW_NAMES:
            asked = NSFW_NAMES[raw]
        elif raw and raw not in _FALSE:
            by_label = {level.name.casefold(): level for level in NsfwLevel.viewable()}
            level = by_label.get(raw) or parse_id(raw)
            if level not in NsfwLevel.viewable():
                raise BadParam(
                    "nsfw must be true, false, one of None, Soft, Mature, X, "
                    "or a level: PG, PG13, R, X, XXX."
                )
            asked = level
        # PG is always allowed; nothing beyond what the caller's own preference opens.
        return (asked & allowed) or NsfwLevel.PG


def bad_cursor() -> BadParam:
    return BadParam("cursor is not one this server gave; use metadata.nextCursor.")
