"""Recognise a model file's format from its first bytes, never from its name.

This is the first gate; the strict readers of each format (safetensors header, pickle
opcode scanner) run after it. Content that matches no known format is rejected.
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from dataclasses import dataclass, field

SAFETENSORS_HEADER_CAP = 100 * 1024 * 1024
SNIFF_BYTES = 64

# Bits per element for the dtypes safetensors defines.
_DTYPE_BITS = {
    "F64": 64, "F32": 32, "F16": 16, "BF16": 16, "F8_E4M3": 8, "F8_E5M2": 8,
    "I64": 64, "I32": 32, "I16": 16, "I8": 8, "U64": 64, "U32": 32, "U16": 16, "U8": 8,
    "BOOL": 8,
}  # fmt: skip
_PRECISION_OF_DTYPE = {
    "F32": "fp32", "F16": "fp16", "BF16": "bf16", "F8_E4M3": "fp8", "F8_E5M2": "fp8",
    "F64": "other",
}  # fmt: skip


class UnrecognisedFormat(ValueError):
    """The bytes are not any model format this site accepts."""


@dataclass
class Detected:
    format: str  # one of models_hub.choices.FileFormat's values
    precision: str = ""
    tensor_count: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def sniff(head: bytes, size: int) -> str:
    """The format the first bytes announce, or UnrecognisedFormat."""
    if size == 0:
        raise UnrecognisedFormat("The file is empty.")
    if head[:4] == b"GGUF":
        return "GGUF"
    if head[:4] == b"PK\x03\x04":
        return "PickleTensor"  # torch's zip archive; its members are scanned as pickles
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "PickleTensor"  # a raw pickle, or torch's legacy format (starts with one)
    if len(head) >= 9:
        (header_length,) = struct.unpack("<Q", head[:8])
        if 2 <= header_length <= min(size - 8, SAFETENSORS_HEADER_CAP) and head[8:9] == b"{":
            return "SafeTensor"
    if len(head) >= 3 and head[0] == 0x08 and head[1] < 0x80 and head[2] in (0x12, 0x1A, 0x3A):
        return "ONNX"  # protobuf ModelProto: ir_version, then producer/graph fields
    raise UnrecognisedFormat(
        "This file is not a format we accept (safetensors, checkpoint/pickle, GGUF or ONNX)."
    )


def read_safetensors_summary(stream, size: int) -> Detected:
    """The dominant precision, tensor count and metadata from a safetensors header."""
    stream.seek(0)
    (header_length,) = struct.unpack("<Q", stream.read(8))
    if header_length > min(size - 8, SAFETENSORS_HEADER_CAP):
        raise UnrecognisedFormat("The safetensors header is longer than the file allows.")
    try:
        header = json.loads(stream.read(header_length).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise UnrecognisedFormat("The safetensors header is not valid UTF-8 JSON.") from None
    if not isinstance(header, dict):
        raise UnrecognisedFormat("The safetensors header is not a JSON object.")
    metadata = header.pop("__metadata__", None) or {}
    bits_by_precision: Counter[str] = Counter()
    for name, info in header.items():
        if not isinstance(info, dict) or info.get("dtype") not in _DTYPE_BITS:
            raise UnrecognisedFormat(f"Tensor {name[:80]!r} has no known dtype.")
        offsets = info.get("data_offsets")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(type(o) is int and o >= 0 for o in offsets)
            or offsets[1] < offsets[0]
        ):
            raise UnrecognisedFormat(f"Tensor {name[:80]!r} has invalid data offsets.")
        precision = _PRECISION_OF_DTYPE.get(info["dtype"])
        if precision:
            bits_by_precision[precision] += offsets[1] - offsets[0]
    dominant = bits_by_precision.most_common(1)[0][0] if bits_by_precision else ""
    return Detected(
        format="SafeTensor",
        precision=dominant,
        tensor_count=len(header),
        metadata={str(k): str(v) for k, v in metadata.items()}
        if isinstance(metadata, dict)
        else {},
    )


def detect(stream, size: int) -> Detected:
    stream.seek(0)
    head = stream.read(SNIFF_BYTES)
    fmt = sniff(head, size)
    if fmt == "SafeTensor":
        return read_safetensors_summary(stream, size)
    return Detected(format=fmt)


def is_text_config(head: bytes) -> bool:
    """A small YAML or JSON config file: UTF-8 text with no NUL bytes."""
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The sample may end inside a multi-byte character; anything else is not text.
        return exc.reason == "unexpected end of data" and exc.start >= len(head) - 3
    return True
