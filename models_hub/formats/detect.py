"""Recognise a model file's format from its first bytes, never from its name.

This is the first gate; the strict readers of each format (safetensors header, pickle
opcode scanner) run after it. Content that matches no known format is rejected.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from models_hub.formats import safetensors

SAFETENSORS_HEADER_CAP = safetensors.HEADER_CAP
SNIFF_BYTES = 512


class UnrecognisedFormat(ValueError):
    """The bytes are not any model format this site accepts."""


@dataclass
class Detected:
    format: str  # one of models_hub.choices.FileFormat's values
    precision: str = ""
    tensor_count: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    parents: list[safetensors.ParentRef] = field(default_factory=list)


def sniff(head: bytes, size: int) -> str:
    """The format the first bytes announce, or UnrecognisedFormat."""
    if size == 0:
        raise UnrecognisedFormat("The file is empty.")
    if head[257:262] == b"ustar":
        # torch's legacy loader tries tar before pickle: a tar would be read differently.
        raise UnrecognisedFormat("Tar archives are not accepted.")
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
    """Precision, tensor count, metadata and named parents from a strictly checked header."""
    try:
        info = safetensors.read_header(stream, size)
    except safetensors.SafetensorsError as exc:
        raise UnrecognisedFormat(str(exc)) from None
    return Detected(
        format="SafeTensor",
        precision=info.precision,
        tensor_count=info.tensor_count,
        metadata=info.metadata,
        parents=info.parents,
    )


def detect(stream, size: int) -> Detected:
    stream.seek(0)
    head = stream.read(SNIFF_BYTES)
    fmt = sniff(head, size)
    if fmt == "SafeTensor":
        return read_safetensors_summary(stream, size)
    return Detected(format=fmt)
