"""A strict reader of safetensors headers. It reads the 8-byte length and the JSON header,
never the tensor data, and rejects every file whose header does not describe the file
exactly: formats that several parsers read differently are how polyglots and confused
loaders happen (see BAD_INPUTS rows 12-19).
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import BinaryIO

HEADER_CAP = 100_000_000  # the reference loader's own limit
TENSOR_CAP = 100_000
METADATA_VALUE_CAP = 64 * 1024

# Bits per element of every dtype the format defines.
DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32,
    "F64": 64, "I64": 64, "U64": 64,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}  # fmt: skip
PRECISION_OF_DTYPE = {
    "F32": "fp32", "F16": "fp16", "BF16": "bf16", "F8_E4M3": "fp8", "F8_E5M2": "fp8",
    "F8_E8M0": "fp8", "F64": "other", "F4": "other", "F6_E2M3": "other", "F6_E3M2": "other",
}  # fmt: skip


class SafetensorsError(ValueError):
    """The file is not a well-formed safetensors file; the message says what is wrong."""


@dataclass(frozen=True)
class ParentRef:
    """A model named by the file's own metadata as one it was made from."""

    name: str
    hash: str = ""
    source: str = ""  # the metadata key that named it


@dataclass
class SafetensorsInfo:
    header_length: int
    tensor_count: int
    bytes_by_dtype: dict[str, int]
    precision: str
    metadata: dict[str, str]
    truncated_keys: list[str] = field(default_factory=list)
    parents: list[ParentRef] = field(default_factory=list)

    @property
    def data_offset(self) -> int:
        return 8 + self.header_length


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise SafetensorsError(f"The header names {key[:80]!r} twice.")
        result[key] = value
    return result


def _is_count(value: object) -> bool:
    return type(value) is int and value >= 0


def _elements(shape: list[int], cap: int) -> int | None:
    """The number of elements of `shape`, or None when it is more than `cap`.

    The product stops growing at the cap: dimensions are JSON integers of any size and
    number, and multiplying them all out would take quadratic time (a 2 MB header of 2**64s
    took 18 s) and could give a number too large to print as a float.
    """
    if 0 in shape:
        return 0
    count = 1
    for dimension in shape:
        count *= dimension
        if count > cap:
            return None
    return count


def read_header(stream: BinaryIO, size: int) -> SafetensorsInfo:
    """Check a safetensors file of `size` bytes by its header; raise SafetensorsError."""
    stream.seek(0)
    prefix = stream.read(8)
    if len(prefix) < 8 or size < 8:
        raise SafetensorsError("The file is too short to be safetensors.")
    (header_length,) = struct.unpack("<Q", prefix)
    if header_length > HEADER_CAP:
        raise SafetensorsError(
            f"The header claims {header_length:,} bytes; the limit is {HEADER_CAP:,}."
        )
    if header_length > size - 8:
        raise SafetensorsError("The header claims to be longer than the file.")
    if header_length < 2:
        raise SafetensorsError("The header is empty.")
    raw = stream.read(header_length)
    if len(raw) != header_length:
        raise SafetensorsError("The file ends inside its header.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SafetensorsError("The header is not UTF-8 text.") from None
    if not text.startswith("{"):
        raise SafetensorsError("The header is not a JSON object.")
    try:
        header = json.loads(text, object_pairs_hook=_reject_duplicates)
    except SafetensorsError:
        raise
    except (json.JSONDecodeError, RecursionError, ValueError):
        raise SafetensorsError("The header is not valid JSON.") from None
    if not isinstance(header, dict):
        raise SafetensorsError("The header is not a JSON object.")

    metadata, truncated = _read_metadata(header.pop("__metadata__", None))
    if len(header) > TENSOR_CAP:
        raise SafetensorsError(f"The header lists more than {TENSOR_CAP:,} tensors.")
    data_length = size - 8 - header_length
    spans: list[tuple[int, int, str]] = []
    bytes_by_dtype: Counter[str] = Counter()
    for name, info in header.items():
        shown = repr(name[:80])
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorsError(f"Tensor {shown} must have exactly dtype, shape, data_offsets.")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        # Any JSON value can stand here: a list is unhashable and a deeply nested one cannot
        # even be printed without RecursionError, so only a string is named in the message.
        if not isinstance(dtype, str):
            raise SafetensorsError(f"Tensor {shown} has a dtype that is not a string.")
        if dtype not in DTYPE_BITS:
            raise SafetensorsError(f"Tensor {shown} has an unknown dtype {dtype[:20]!r}.")
        if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
            raise SafetensorsError(f"Tensor {shown} has an invalid shape.")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_is_count(o) for o in offsets)
            or offsets[1] < offsets[0]
        ):
            raise SafetensorsError(f"Tensor {shown} has invalid data offsets.")
        begin, end = offsets
        elements = _elements(shape, cap=2 * data_length + 1)
        if elements is None:
            raise SafetensorsError(
                f"Tensor {shown}: its shape and dtype need more bytes than the file's "
                f"{data_length:,} bytes of data."
            )
        expected_bits = elements * DTYPE_BITS[dtype]
        if expected_bits % 8 or expected_bits // 8 != end - begin:
            raise SafetensorsError(
                f"Tensor {shown}: its shape and dtype need {expected_bits / 8:,.0f} bytes, "
                f"its offsets give {end - begin:,}."
            )
        if end > data_length:
            raise SafetensorsError(f"Tensor {shown} reaches past the end of the file.")
        spans.append((begin, end, name))
        bytes_by_dtype[dtype] += end - begin

    # The tensors must tile the data exactly: no overlap, no hole, nothing after the last.
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            kind = "overlaps another" if begin < position else "leaves a gap before it"
            raise SafetensorsError(f"Tensor {name[:80]!r} {kind}.")
        position = end
    if position != data_length:
        raise SafetensorsError(
            f"The file has {data_length - position:,} bytes after its last tensor."
        )

    precision_bytes: Counter[str] = Counter()
    for dtype, count in bytes_by_dtype.items():
        if dtype in PRECISION_OF_DTYPE:
            precision_bytes[PRECISION_OF_DTYPE[dtype]] += count
    return SafetensorsInfo(
        header_length=header_length,
        tensor_count=len(spans),
        bytes_by_dtype=dict(bytes_by_dtype),
        precision=precision_bytes.most_common(1)[0][0] if precision_bytes else "",
        metadata=metadata,
        truncated_keys=truncated,
        parents=parents_from_metadata(metadata),
    )


def _read_metadata(raw: object) -> tuple[dict[str, str], list[str]]:
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        raise SafetensorsError("__metadata__ must be an object of strings.")
    metadata: dict[str, str] = {}
    truncated: list[str] = []
    for key, value in raw.items():
        if not isinstance(value, str):
            raise SafetensorsError(f"__metadata__ value {key[:80]!r} is not a string.")
        if len(value) > METADATA_VALUE_CAP:
            value = value[:METADATA_VALUE_CAP]
            truncated.append(key[:200])
        metadata[key[:200]] = value
    return metadata, truncated


def _json_or_none(text: str) -> object:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError):
        return None


def parents_from_metadata(metadata: dict[str, str]) -> list[ParentRef]:
    """Models a file's metadata says it was trained on or merged from.

    Read: kohya's training keys (`ss_sd_model_name`, `ss_sd_model_hash`,
    `ss_new_sd_model_hash`), A1111 merges (`sd_merge_models`: hash -> {name}), supermerger
    recipes (`sd_merge_recipe`: model_a/b/c), and `modelspec.merged_from`.
    """
    parents: list[ParentRef] = []

    def add(name: object, digest: object = "", source: str = "") -> None:
        name = str(name or "").strip()[:200]
        digest = str(digest or "").strip()[:64]
        if (name or digest) and not any(p.name == name and p.hash == digest for p in parents):
            parents.append(ParentRef(name=name or digest, hash=digest, source=source))

    if metadata.get("ss_sd_model_name"):
        add(
            metadata["ss_sd_model_name"],
            metadata.get("ss_new_sd_model_hash") or metadata.get("ss_sd_model_hash", ""),
            "ss_sd_model_name",
        )
    merged = _json_or_none(metadata.get("sd_merge_models", ""))
    if isinstance(merged, dict):
        for digest, info in list(merged.items())[:50]:
            name = info.get("name") if isinstance(info, dict) else ""
            add(name or digest, digest, "sd_merge_models")
    recipe = _json_or_none(metadata.get("sd_merge_recipe", ""))
    if isinstance(recipe, dict):
        for key in ("model_a", "model_b", "model_c"):
            if recipe.get(key):
                add(recipe[key], "", "sd_merge_recipe")
    merged_from = metadata.get("modelspec.merged_from")
    if merged_from:
        for name in merged_from.split(",")[:50]:
            add(name, "", "modelspec.merged_from")
    return parents
