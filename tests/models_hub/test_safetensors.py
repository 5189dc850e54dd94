"""The strict safetensors header reader (BAD_INPUTS rows 12-19)."""

from __future__ import annotations

import io
import json
import struct

import pytest

from models_hub.demo import make_safetensors
from models_hub.formats.safetensors import (
    HEADER_CAP,
    METADATA_VALUE_CAP,
    SafetensorsError,
    read_header,
)


def build(header_text: str | bytes, data: bytes = b"") -> bytes:
    raw = header_text.encode() if isinstance(header_text, str) else header_text
    return struct.pack("<Q", len(raw)) + raw + data


def tensors(**specs) -> str:
    return json.dumps(
        {name: {"dtype": d, "shape": s, "data_offsets": o} for name, (d, s, o) in specs.items()}
    )


def read(data: bytes, size: int | None = None):
    return read_header(io.BytesIO(data), len(data) if size is None else size)


def test_valid_file_is_read():
    info = read(make_safetensors(seed=3, tensors=5))
    assert info.tensor_count == 5 and info.precision == "fp16"
    assert info.metadata["format"] == "pt"
    assert info.data_offset == 8 + info.header_length


def test_bf16_and_fp8_precision_by_bytes():
    header = tensors(a=("BF16", [4], [0, 8]), b=("F8_E4M3", [2], [8, 10]))
    assert read(build(header, b"\0" * 10)).precision == "bf16"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (struct.pack("<Q", 2**63) + b"{}", "limit"),  # row 12
        (struct.pack("<Q", HEADER_CAP + 1) + b"{", "limit"),  # row 13
        (struct.pack("<Q", 100) + b"{}", "longer than the file"),  # row 13
        (b"\x01\x00", "too short"),  # row 7
        (build(b"\xff\xfe{}"), "UTF-8"),  # row 14
        (build("{"), "empty"),  # row 14
        (build('{"a": ]'), "JSON"),
        (build("[]"), "JSON object"),  # row 14
        (build('"{}"'), "JSON object"),
    ],
)
def test_bad_headers_are_rejected(data, message):
    with pytest.raises(SafetensorsError, match=message):
        read(data)


def test_huge_length_is_rejected_before_reading_the_header():
    class NoReads(io.BytesIO):
        def read(self, n=-1):
            if n > 8:
                raise AssertionError(f"read {n} bytes")
            return super().read(n)

    data = struct.pack("<Q", 2**63) + b"{}"
    with pytest.raises(SafetensorsError):
        read_header(NoReads(data), len(data))


@pytest.mark.parametrize(
    ("header", "data_length", "message"),
    [
        # row 15: overlapping, negative, holes, trailing bytes
        (tensors(a=("F32", [2], [0, 8]), b=("F32", [2], [0, 8])), 8, "overlaps"),
        (tensors(a=("F32", [2], [-8, 0])), 8, "offsets"),
        (tensors(a=("F32", [1], [4, 8])), 8, "gap"),
        (tensors(a=("F32", [2], [0, 8])), 8 + 20, "after its last tensor"),
        (tensors(a=("F32", [2], [0, 8])), 4, "past the end"),
        # row 16: shape and dtype inconsistent, overflowing shapes, unknown dtype
        (tensors(a=("F32", [3], [0, 8])), 8, "need"),
        (tensors(a=("F32", [2**62, 2**62], [0, 8])), 8, "need"),
        (tensors(a=("EVIL", [2], [0, 8])), 8, "unknown dtype"),
        (tensors(a=("F32", [-2], [0, 8])), 8, "shape"),
        (tensors(a=("F32", "2", [0, 8])), 8, "shape"),
        (tensors(a=("F32", [True, 2], [0, 8])), 8, "shape"),
        (json.dumps({"a": {"dtype": "F32", "shape": [2]}}), 8, "exactly"),
        (json.dumps({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "x": 1}}), 8,
         "exactly"),
        (json.dumps({"__metadata__": {"a": 1}}), 0, "not a string"),
        (json.dumps({"__metadata__": []}), 0, "object of strings"),
    ],
)  # fmt: skip
def test_inconsistent_tensors_are_rejected(header, data_length, message):
    with pytest.raises(SafetensorsError, match=message):
        read(build(header, b"\0" * data_length))


def test_valid_file_with_appended_html_is_rejected():
    # row 15: a polyglot, safetensors for one parser and a web page or zip for another
    data = make_safetensors(seed=1) + b"<html><script>alert(1)</script></html>"
    with pytest.raises(SafetensorsError, match="after its last tensor"):
        read(data)


@pytest.mark.parametrize(
    "header",
    [
        '{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, '
        '"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}',
        '{"__metadata__": {"x": "1"}, "__metadata__": {"x": "2"}}',
    ],
)
def test_duplicate_keys_are_rejected(header):
    # row 17: parsers disagree on which duplicate wins
    with pytest.raises(SafetensorsError, match="twice"):
        read(build(header, b"\0" * 4 if '"a"' in header else b""))


def test_huge_metadata_value_is_truncated_and_kept_as_text():
    # row 18: stored truncated; escaping is the template's job (tested on the page)
    header = json.dumps({"__metadata__": {"ss_tag_frequency": "<script>" + "x" * 10_000_000}})
    info = read(build(header))
    assert len(info.metadata["ss_tag_frequency"]) == METADATA_VALUE_CAP
    assert info.truncated_keys == ["ss_tag_frequency"]


def test_zero_tensor_file_with_only_metadata_is_valid():
    info = read(build(json.dumps({"__metadata__": {"a": "b"}})))
    assert info.tensor_count == 0 and info.metadata == {"a": "b"}


def test_empty_tensor_is_valid():
    info = read(build(tensors(a=("F32", [0, 3], [0, 0]), b=("F16", [1], [0, 2])), b"\0\0"))
    assert info.tensor_count == 2


def test_sparse_8_gib_file_header_is_read_without_touching_the_data(tmp_path):
    size = 8 * 1024**3
    elements = (size - 4096) // 2
    header = tensors(w=("F16", [elements], [0, elements * 2]))
    raw = header.encode()
    raw += b" " * (4096 - 8 - len(raw))
    path = tmp_path / "big.safetensors"
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(raw)) + raw)
        handle.truncate(8 + len(raw) + elements * 2)
    with open(path, "rb") as handle:
        info = read_header(handle, path.stat().st_size)
    assert info.tensor_count == 1 and info.bytes_by_dtype == {"F16": elements * 2}


def test_parents_named_by_metadata_are_extracted():
    metadata = {
        "ss_sd_model_name": "sd_xl_base_1.0.safetensors",
        "ss_new_sd_model_hash": "31e35c80fc",
        "sd_merge_models": json.dumps(
            {"abcdef0123": {"name": "dreamshaper_8"}, "9876543210": {"name": "realvis"}}
        ),
        "sd_merge_recipe": json.dumps({"model_a": "dreamshaper_8", "model_b": "anything-v5"}),
        "modelspec.merged_from": "alpha, beta",
    }
    info = read(build(json.dumps({"__metadata__": metadata})))
    names = [(p.name, p.hash, p.source) for p in info.parents]
    assert ("sd_xl_base_1.0.safetensors", "31e35c80fc", "ss_sd_model_name") in names
    assert ("dreamshaper_8", "abcdef0123", "sd_merge_models") in names
    assert ("realvis", "9876543210", "sd_merge_models") in names
    assert ("anything-v5", "", "sd_merge_recipe") in names
    assert ("alpha", "", "modelspec.merged_from") in names and (
        "beta",
        "",
        "modelspec.merged_from",
    ) in names


def test_garbage_merge_metadata_is_ignored():
    metadata = {"sd_merge_models": "{not json", "sd_merge_recipe": "[1, 2]"}
    assert read(build(json.dumps({"__metadata__": metadata}))).parents == []
