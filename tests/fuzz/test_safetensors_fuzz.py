"""Fuzzing the safetensors header reader: it returns a summary or raises SafetensorsError
(and format detection, UnrecognisedFormat), whatever the bytes.

The strategy builds files the way a writer would (8-byte little-endian length, a JSON
header, the tensor data) and then breaks them at every level: the length, the JSON text
(duplicate keys, deep nesting, huge numbers, bad UTF-8), the tensor entries (wrong dtypes,
huge or negative shapes, offsets that overlap or leave gaps), the metadata (non-strings,
oversized values, the parent-model keys filled with arbitrary JSON) and the tail.
"""

from __future__ import annotations

import io
import json
import math
import re
import struct
from datetime import timedelta

from hypothesis import event, given, settings
from hypothesis import strategies as st

from models_hub.formats import detect
from models_hub.formats.safetensors import (
    DTYPE_BITS,
    METADATA_VALUE_CAP,
    SafetensorsError,
    SafetensorsInfo,
    read_header,
)
from tests.fuzz.mutations import mutated, note_input, random_bytes

FUZZ = settings.get_profile("fuzz")

json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

dimensions = st.one_of(
    st.integers(0, 6),
    st.integers(0, 2**64),
    st.integers(-(2**63), -1),
    st.sampled_from([2**31, 2**32 - 1, 2**63 - 1, 2**63, 2**64, 10**30, 10**200]),
)
dtypes = st.sampled_from(sorted(DTYPE_BITS))
PARENT_KEYS = [
    "ss_sd_model_name",
    "ss_sd_model_hash",
    "ss_new_sd_model_hash",
    "sd_merge_models",
    "sd_merge_recipe",
    "modelspec.merged_from",
]


@st.composite
def metadata_values(draw: st.DrawFn) -> object:
    kind = draw(st.sampled_from(["text", "json", "oversized", "not a string"]))
    if kind == "text":
        return draw(st.text(max_size=40))
    if kind == "json":
        # What the parent-model keys hold: JSON in a string, of any shape.
        return json.dumps(draw(json_values))
    if kind == "oversized":
        return "x" * (METADATA_VALUE_CAP + draw(st.integers(-1, 3)))
    return draw(json_values)


metadata = st.dictionaries(
    st.sampled_from(PARENT_KEYS) | st.text(max_size=10), metadata_values(), max_size=6
)


@st.composite
def tensor_entries(draw: st.DrawFn) -> tuple[list[tuple[str, object]], int]:
    """Tensors that tile the data exactly (a valid file), then perhaps one thing broken.
    Returns the (name, entry) pairs and the length of the data they describe."""
    entries: list[tuple[str, object]] = []
    position = 0
    for index in range(draw(st.integers(0, 4))):
        dtype = draw(dtypes)
        shape = draw(st.lists(st.integers(0, 4), max_size=3))
        bits = math.prod(shape) * DTYPE_BITS[dtype]
        if bits % 8:
            shape, bits = [8], 8 * DTYPE_BITS[dtype]
        entry = {"dtype": dtype, "shape": shape, "data_offsets": [position, position + bits // 8]}
        entries.append((draw(st.text(max_size=6)) or f"t{index}", entry))
        position += bits // 8
    data_length = position
    breakage = draw(
        st.sampled_from(
            ["none", "dtype", "shape", "offsets", "keys", "entry", "data length", "duplicate"]
        )
    )
    if entries and breakage != "none":
        name, entry = entries[draw(st.integers(0, len(entries) - 1))]
        assert isinstance(entry, dict)
        if breakage == "dtype":
            entry["dtype"] = draw(json_values | st.sampled_from(["f32", "F128", ""]))
        elif breakage == "shape":
            entry["shape"] = draw(st.lists(dimensions, max_size=4) | json_values)
        elif breakage == "offsets":
            entry["data_offsets"] = draw(st.lists(dimensions, max_size=3) | json_values)
        elif breakage == "keys":
            entry[draw(st.sampled_from(["dtype", "shape", "data_offsets", "extra"]))] = None
            if draw(st.booleans()):
                entry.pop(draw(st.sampled_from(["dtype", "shape", "data_offsets"])))
        elif breakage == "entry":
            entries.append((name + "x", draw(json_values)))
        elif breakage == "data length":
            data_length += draw(st.integers(-8, 8))
        elif breakage == "duplicate":
            entries.append((name, entry))
    return entries, max(data_length, 0)


def _object_text(pairs: list[tuple[str, object]]) -> str:
    """A JSON object written from pairs, so a key can appear twice."""
    return "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs) + "}"


@st.composite
def header_texts(draw: st.DrawFn) -> tuple[bytes, int]:
    """A header's bytes and the length of data after it."""
    kind = draw(st.sampled_from(["built"] * 6 + ["deep", "huge number", "noise json"]))
    if kind == "deep":
        depth = draw(st.integers(1, 5000))
        inner = "[" * depth + "]" * depth
        text = f'{{"a": {{"dtype": {inner}, "shape": [], "data_offsets": [0, 0]}}}}'
        return text.encode(), 0
    if kind == "huge number":
        digits = "9" * draw(st.integers(1, 6000))
        text = f'{{"a": {{"dtype": "F32", "shape": [{digits}], "data_offsets": [0, 4]}}}}'
        return text.encode(), 4
    if kind == "noise json":
        return json.dumps(draw(json_values)).encode(), draw(st.integers(0, 16))
    pairs, data_length = draw(tensor_entries())
    if draw(st.booleans()):
        pairs.insert(draw(st.integers(0, len(pairs))), ("__metadata__", draw(metadata)))
    raw = _object_text(pairs).encode()
    if draw(st.booleans()):
        raw += b" " * draw(st.integers(0, 8))  # writers pad the header with spaces
    if draw(st.integers(0, 9)) == 0:
        raw = draw(mutated(st.just(raw), max_edits=2))
    return raw, data_length


@st.composite
def safetensors_files(draw: st.DrawFn) -> bytes:
    raw, data_length = draw(header_texts())
    length = len(raw)
    match draw(st.sampled_from(["exact"] * 8 + ["off by some", "any"])):
        case "off by some":
            length = max(0, length + draw(st.integers(-4, 4)))
        case "any":
            length = draw(dimensions.filter(lambda n: 0 <= n < 2**64))
    data = draw(st.binary(min_size=data_length, max_size=data_length))
    return struct.pack("<Q", length) + raw + data + draw(st.binary(max_size=2))


def _read(data: bytes) -> SafetensorsInfo | None:
    note_input(data)
    try:
        info = read_header(io.BytesIO(data), len(data))
    except SafetensorsError as exc:
        assert str(exc), "a rejection must say what is wrong"
        # Which check refused it, without the names and numbers: how deep inputs reach.
        event("rejected: " + re.sub(r"'[^']*'|\"[^\"]*\"|(?<![\w-])\d[\d,]*", "…", str(exc)))
        return None
    event("read")
    return info


@settings(FUZZ)
@given(safetensors_files())
def test_built_files_are_read_or_rejected(data):
    info = _read(data)
    if info is not None:
        assert info.data_offset + sum(info.bytes_by_dtype.values()) == len(data)


@settings(FUZZ)
@given(random_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}", struct.pack("<Q", 40) + b"{"))
def test_random_bytes_are_read_or_rejected(data):
    _read(data)


@settings(FUZZ)
@given(mutated(safetensors_files(), max_edits=3))
def test_format_detection_recognises_or_rejects(data):
    note_input(data)
    try:
        detected = detect.detect(io.BytesIO(data), len(data))
    except detect.UnrecognisedFormat as exc:
        assert str(exc)
    else:
        assert detected.format in {"SafeTensor", "PickleTensor", "GGUF", "ONNX"}


@st.composite
def long_headers(draw: st.DrawFn) -> bytes:
    """Headers of up to a few megabytes made of one repeated part: a shape with many large
    dimensions, many tensors, many metadata keys."""
    count = draw(st.integers(1, 150_000))
    match draw(st.sampled_from(["dimensions", "tensors", "metadata"])):
        case "dimensions":
            dimension = json.dumps(draw(dimensions.filter(lambda n: n >= 0)))
            shape = ",".join([dimension] * count)
            text = f'{{"a": {{"dtype": "F32", "shape": [{shape}], "data_offsets": [0, 4]}}}}'
        case "tensors":
            entry = '{"dtype": "U8", "shape": [1], "data_offsets": [%d, %d]}'
            text = "{" + ",".join(f'"t{i}": ' + entry % (i, i + 1) for i in range(count)) + "}"
        case _:
            value = json.dumps(draw(st.text(max_size=20)))
            items = ",".join(f'"k{i}": {value}' for i in range(count))
            text = f'{{"__metadata__": {{{items}}}}}'
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw + b"\x00" * draw(st.integers(0, 4))


@settings(
    FUZZ,
    max_examples=max(10, FUZZ.max_examples // 10),
    # A header costs time in proportion to its size: a few megabytes in well under 3 s,
    # where a product of all the dimensions multiplied out took 18 s for 2 MB.
    deadline=timedelta(seconds=3),
)
@given(long_headers())
def test_long_headers_are_read_in_linear_time(data):
    _read(data)
