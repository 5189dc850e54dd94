"""Byte-level mutations shared by the fuzz tests: what a damaged or hand-edited file looks
like after a structure-aware strategy has built a plausible one."""

from __future__ import annotations

from hypothesis import note
from hypothesis import strategies as st

# Values that make length fields and counters overflow, go negative or point nowhere.
INTERESTING_BYTES = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\xff\xff\xff\xff", b"\x00\x00\x00\x80"]


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[bytes], max_edits: int = 4) -> bytes:
    """`base`, then up to `max_edits` edits: flips, overwrites, insertions, deletions,
    duplicated slices and a truncation."""
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(0, max_edits))):
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "repeat", "truncate"]))
        at = draw(st.integers(0, len(data)))
        if kind == "flip" and data:
            at = min(at, len(data) - 1)
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            value = draw(st.sampled_from(INTERESTING_BYTES) | st.binary(min_size=1, max_size=4))
            data[at : at + len(value)] = value
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from(INTERESTING_BYTES) | st.binary(max_size=16))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif kind == "repeat":
            chunk = bytes(data[at : at + draw(st.integers(1, 32))])
            data[at:at] = chunk * draw(st.integers(1, 8))
        elif kind == "truncate":
            del data[at:]
    return bytes(data)


def random_bytes(*prefixes: bytes) -> st.SearchStrategy[bytes]:
    """Pure noise, and noise behind the magic numbers the reader dispatches on."""
    noise = st.binary(max_size=512)
    if not prefixes:
        return noise
    return noise | st.builds(lambda p, tail: p + tail, st.sampled_from(prefixes), noise)


def note_input(data: bytes, limit: int = 4096) -> None:
    """Print the input with a failing example (shrunk inputs are short; long ones are cut)."""
    shown = repr(data) if len(data) <= limit else f"{data[:limit]!r}... ({len(data):,} bytes)"
    note(f"input: {shown}")
