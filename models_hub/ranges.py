"""The HTTP of downloads: Range requests, so `curl -C -`, `wget -c` and aria2 can resume,
and a Content-Disposition every client reads the file name from."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import quote

_SINGLE_RANGE = re.compile(r"^bytes=([0-9]{0,19})-([0-9]{0,19})$")  # ASCII digits, < 2**63
CHUNK = 8 * 1024 * 1024


class Unsatisfiable(ValueError):
    """The range asks for bytes the file does not have (answer 416)."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte span one `Range` header asks for, or None to send the whole file.

    Only a single range is honoured; several ranges, or a header we cannot read, get the
    whole file, which RFC 9110 allows a server to do.
    """
    if not header:
        return None
    match = _SINGLE_RANGE.match(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # a suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise Unsatisfiable
        return max(0, size - length), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # not a valid range: RFC 9110 says ignore the header
    end = min(int(last), size - 1) if last else size - 1
    if start >= size:
        raise Unsatisfiable
    return start, end


def iter_span(stream: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    """The bytes from `start` to `end` inclusive, in chunks; closes the stream at the end."""
    try:
        stream.seek(start)
        left = end - start + 1
        while left > 0:
            chunk = stream.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    finally:
        stream.close()


def attachment_header(name: str) -> str:
    """Content-Disposition for a download named `name`.

    A name beyond plain ASCII goes in `filename*` (RFC 6266) with an ASCII `filename` after
    it: curl -J reads only `filename`, and civitdl takes whatever follows the last
    "filename=", so that one must come last and be quoted.
    """
    if name.isascii() and name.isprintable() and not any(c in name for c in '"\\;'):
        return f'attachment; filename="{name}"'
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_only = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;' else "_"
        for c in decomposed
        if not unicodedata.combining(c)
    )
    stem, dot, ext = re.sub(r"_+", "_", ascii_only).rpartition(".")
    if not dot:
        stem, ext = ext, ""
    stem = stem.strip("_ ") or "download"  # "ベルベット v1" reads "v1", not "_ v1"
    fallback = f"{stem}.{ext}" if ext else stem
    return f"attachment; filename*=UTF-8''{quote(name, safe='')}; filename=\"{fallback}\""
