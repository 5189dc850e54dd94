"""Format sniffing from content: safetensors, pickle/torch, GGUF, ONNX, and the rejections.

Nothing here is ever unpickled: pickle bytes are written by hand and only sniffed.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile

import pytest
from PIL import Image

from models_hub.demo import make_safetensors
from models_hub.formats.detect import (
    SAFETENSORS_HEADER_CAP,
    UnrecognisedFormat,
    detect,
    read_safetensors_summary,
    sniff,
)

# {} as a protocol-2 pickle: PROTO 2, EMPTY_DICT, BINPUT 0, STOP. Never loaded.
RAW_PICKLE = b"\x80\x02}q\x00."


def _detect(data: bytes):
    return detect(io.BytesIO(data), len(data))


def _safetensors_with_header(header: bytes, payload: bytes = b"") -> bytes:
    return struct.pack("<Q", len(header)) + header + payload


def _safetensors_from(header: dict, payload_size: int) -> bytes:
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return _safetensors_with_header(raw, b"\x00" * payload_size)


def _torch_zip(member: str = "archive/data.pkl", content: bytes = RAW_PICKLE) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(member, content)
        archive.writestr("archive/version", b"3\n")
    return out.getvalue()


def _png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (1, 2, 3)).save(out, "PNG")
    return out.getvalue()


def test_valid_safetensors_is_safetensor_with_fp16_precision_and_tensor_count():
    data = make_safetensors(seed=1, dtype="F16", tensors=4)
    detected = _detect(data)
    assert detected.format == "SafeTensor"
    assert detected.precision == "fp16"
    assert detected.tensor_count == 4  # __metadata__ is not a tensor


def test_safetensors_metadata_is_read_from_header():
    data = make_safetensors(seed=9, tensors=2)
    detected = _detect(data)
    assert detected.metadata == {"format": "pt", "modelspec.title": "demo 9"}
    assert detected.tensor_count == 2


def test_f32_safetensors_is_fp32():
    detected = _detect(make_safetensors(seed=2, dtype="F32", tensors=3))
    assert detected.format == "SafeTensor"
    assert detected.precision == "fp32"
    assert detected.tensor_count == 3


def test_bf16_safetensors_is_bf16():
    assert _detect(make_safetensors(seed=2, dtype="BF16")).precision == "bf16"


def test_mixed_precision_reports_the_dtype_with_most_bytes():
    header = {
        "small": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "large": {"dtype": "F16", "shape": [64], "data_offsets": [8, 136]},
    }
    detected = _detect(_safetensors_from(header, 136))
    assert detected.precision == "fp16"
    assert detected.tensor_count == 2
    assert detected.metadata == {}


def test_safetensors_metadata_values_must_be_strings():
    # The format defines __metadata__ as strings only; the reference loader refuses others.
    header = {
        "__metadata__": {"epochs": 10, "name": "x"},
        "w": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]},
    }
    with pytest.raises(UnrecognisedFormat, match="not a string"):
        _detect(_safetensors_from(header, 4))


def test_gguf_magic_is_gguf():
    data = b"GGUF" + struct.pack("<I", 3) + b"\x00" * 24
    assert sniff(data[:64], len(data)) == "GGUF"
    assert _detect(data).format == "GGUF"


def test_torch_zip_with_data_pkl_is_pickletensor():
    data = _torch_zip()
    assert data[:4] == b"PK\x03\x04"
    detected = _detect(data)
    assert detected.format == "PickleTensor"
    assert detected.precision == ""
    assert detected.tensor_count is None


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_raw_pickle_bytes_are_pickletensor(protocol):
    data = bytes([0x80, protocol]) + b"}q\x00."
    assert _detect(data).format == "PickleTensor"


def test_handwritten_protocol_2_pickle_is_pickletensor():
    assert sniff(RAW_PICKLE, len(RAW_PICKLE)) == "PickleTensor"
    assert _detect(RAW_PICKLE).format == "PickleTensor"


def test_onnx_model_proto_is_onnx():
    # field 1 (ir_version) varint 7, then field 2 (producer_name) "pytorch".
    data = b"\x08\x07\x12\x07pytorch" + b"\x00" * 16
    assert _detect(data).format == "ONNX"


def test_png_bytes_are_rejected_as_unrecognised():
    # BAD_INPUTS row 6: PNG bytes saved as x.ckpt.
    with pytest.raises(UnrecognisedFormat):
        _detect(_png_bytes())


def test_empty_input_is_rejected():
    # BAD_INPUTS row 7.
    with pytest.raises(UnrecognisedFormat, match="empty"):
        sniff(b"", 0)
    with pytest.raises(UnrecognisedFormat):
        _detect(b"")


def test_half_a_zip_is_still_sniffed_as_pickletensor_for_the_scanner_to_reject():
    # Sniffing only looks at the magic; the zip scanner is the gate for truncation.
    data = _torch_zip()
    assert _detect(data[: len(data) // 2]).format == "PickleTensor"


def test_header_length_2_pow_63_is_rejected():
    # BAD_INPUTS row 12.
    data = struct.pack("<Q", 2**63) + b'{"a":1}' + b"\x00" * 64
    with pytest.raises(UnrecognisedFormat):
        _detect(data)


def test_summary_reader_rejects_huge_header_length_before_reading():
    data = struct.pack("<Q", 2**63) + b"{" + b" " * 63

    class NoBigReads(io.BytesIO):
        def read(self, size=-1):
            assert size is not None and 0 <= size <= 64, f"tried to read {size} bytes"
            return super().read(size)

    with pytest.raises(UnrecognisedFormat):
        read_safetensors_summary(NoBigReads(data), len(data))


def test_header_length_longer_than_file_is_rejected():
    # BAD_INPUTS row 13: length = file size + 1.
    body = b'{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}'
    size = 8 + len(body)
    data = struct.pack("<Q", size + 1) + body
    with pytest.raises(UnrecognisedFormat):
        _detect(data)
    with pytest.raises(UnrecognisedFormat):
        read_safetensors_summary(io.BytesIO(data), len(data))


def test_header_length_above_cap_is_rejected_even_if_file_is_that_big():
    length = SAFETENSORS_HEADER_CAP + 8
    head = struct.pack("<Q", length) + b"{" + b" " * 55
    # Claim a file big enough to hold the header; only the cap stops it.
    with pytest.raises(UnrecognisedFormat):
        sniff(head, length + 100)
    with pytest.raises(UnrecognisedFormat):
        read_safetensors_summary(io.BytesIO(head), length + 100)


@pytest.mark.parametrize(
    "header",
    [
        b"\xff\xfe{}",  # not UTF-8
        b"{",  # not JSON (and too short)
        b"[]",  # JSON but not an object
        b'{"a": 1',  # truncated JSON
        b"{not json at all}",
        b'{"a":\xff}',  # starts with { but is not UTF-8
    ],
)
def test_header_not_json_or_not_an_object_is_rejected(header):
    # BAD_INPUTS row 14.
    with pytest.raises(UnrecognisedFormat):
        _detect(_safetensors_with_header(header, b"\x00" * 16))


def test_header_that_is_a_json_array_is_rejected_by_summary_reader():
    data = _safetensors_with_header(b"[1, 2, 3]   ")
    with pytest.raises(UnrecognisedFormat, match="object"):
        read_safetensors_summary(io.BytesIO(data), len(data))


def test_tensor_entry_that_is_not_an_object_is_rejected():
    data = _safetensors_with_header(b'{"w": 5}' + b" " * 8)
    with pytest.raises(UnrecognisedFormat):
        _detect(data)


def test_unknown_dtype_evil_is_rejected():
    header = {"w": {"dtype": "EVIL", "shape": [2], "data_offsets": [0, 4]}}
    with pytest.raises(UnrecognisedFormat, match="dtype"):
        _detect(_safetensors_from(header, 4))


def test_missing_dtype_is_rejected():
    header = {"w": {"shape": [2], "data_offsets": [0, 4]}}
    with pytest.raises(UnrecognisedFormat):
        _detect(_safetensors_from(header, 4))


def test_random_text_is_unrecognised():
    data = b"just some text that is not a model at all\n" * 4
    with pytest.raises(UnrecognisedFormat):
        _detect(data)
