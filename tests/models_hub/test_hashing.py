"""StreamHasher / hash_stream checked against independent hashlib, zlib and blake3 results."""

from __future__ import annotations

import hashlib
import io
import json
import random
import struct
import zlib

import pytest
from blake3 import blake3

from models_hub.demo import make_safetensors
from models_hub.formats import hashing
from models_hub.formats.hashing import (
    AUTOV1_LENGTH,
    AUTOV1_OFFSET,
    FileHashes,
    StreamHasher,
    hash_stream,
)


def _random_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def _big_safetensors(payload_size: int, seed: int = 1) -> bytes:
    """A valid safetensors file whose data section is large enough to cover AutoV1's window."""
    header = {
        "__metadata__": {"format": "pt"},
        "big.weight": {"dtype": "U8", "shape": [payload_size], "data_offsets": [0, payload_size]},
    }
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + _random_bytes(payload_size, seed)


def _autov3_of(data: bytes) -> str:
    (header_length,) = struct.unpack("<Q", data[:8])
    return hashlib.sha256(data[8 + header_length :]).hexdigest()


def _feed(data: bytes, chunk_size: int, *, safetensors: bool = False) -> FileHashes:
    hasher = StreamHasher(safetensors=safetensors)
    for start in range(0, len(data), chunk_size):
        hasher.update(data[start : start + chunk_size])
    return hasher.result()


def _feed_split_at(data: bytes, cuts: list[int], *, safetensors: bool = False) -> FileHashes:
    hasher = StreamHasher(safetensors=safetensors)
    edges = [0, *sorted(cuts), len(data)]
    for lo, hi in zip(edges, edges[1:], strict=False):
        hasher.update(memoryview(data)[lo:hi])
    return hasher.result()


# A file that covers AutoV1's whole window and some bytes after it.
BIG = _random_bytes(AUTOV1_OFFSET + AUTOV1_LENGTH + 12_345)
BIG_SHA256 = hashlib.sha256(BIG).hexdigest()


def test_sha256_of_whole_file_matches_hashlib():
    result = hash_stream(io.BytesIO(BIG))
    assert result.sha256 == BIG_SHA256
    assert result.size == len(BIG)


def test_autov2_is_first_ten_hex_of_sha256():
    result = hash_stream(io.BytesIO(BIG))
    assert result.autov2 == BIG_SHA256[:10]
    assert len(result.autov2) == 10


def test_autov1_is_sha256_of_64k_at_1mib():
    expected = hashlib.sha256(BIG[0x100000:0x110000]).hexdigest()[:8]
    result = hash_stream(io.BytesIO(BIG))
    assert result.autov1 == expected
    assert len(result.autov1) == 8
    # Not simply the file's own SHA256 prefix.
    assert result.autov1 != BIG_SHA256[:8]


def test_autov1_uses_partial_window_when_file_ends_inside_it():
    data = _random_bytes(AUTOV1_OFFSET + 100, seed=5)
    expected = hashlib.sha256(data[0x100000:0x110000]).hexdigest()[:8]
    assert hash_stream(io.BytesIO(data)).autov1 == expected


@pytest.mark.parametrize("size", [0, 1, 4096, AUTOV1_OFFSET - 1, AUTOV1_OFFSET])
def test_autov1_is_empty_for_file_of_at_most_1mib(size):
    data = _random_bytes(size, seed=2)
    result = hash_stream(io.BytesIO(data))
    assert result.autov1 == ""
    assert result.sha256 == hashlib.sha256(data).hexdigest()


def test_autov1_present_for_file_one_byte_over_1mib():
    data = _random_bytes(AUTOV1_OFFSET + 1, seed=3)
    expected = hashlib.sha256(data[AUTOV1_OFFSET:]).hexdigest()[:8]
    assert hash_stream(io.BytesIO(data)).autov1 == expected


def test_crc32_is_eight_lowercase_hex_of_zlib_crc32():
    result = hash_stream(io.BytesIO(BIG))
    assert result.crc32 == f"{zlib.crc32(BIG) & 0xFFFFFFFF:08x}"
    assert len(result.crc32) == 8
    assert result.crc32 == result.crc32.lower()


def test_crc32_keeps_leading_zeros():
    # Find a small input whose CRC32 starts with a zero nibble, so the padding is exercised.
    for n in range(10_000):
        data = str(n).encode()
        if zlib.crc32(data) < 0x10000000:
            break
    else:  # pragma: no cover - there are many such inputs
        raise AssertionError("no input with a leading zero nibble found")
    result = hash_stream(io.BytesIO(data))
    assert result.crc32 == f"{zlib.crc32(data):08x}"
    assert result.crc32.startswith("0")
    assert len(result.crc32) == 8


def test_blake3_of_whole_file_matches_blake3_package():
    result = hash_stream(io.BytesIO(BIG))
    assert result.blake3 == blake3(BIG).hexdigest()
    assert len(result.blake3) == 64


def test_empty_stream_hashes():
    result = hash_stream(io.BytesIO(b""))
    assert result.sha256 == hashlib.sha256(b"").hexdigest()
    assert result.autov2 == hashlib.sha256(b"").hexdigest()[:10]
    assert result.autov1 == ""
    assert result.autov3 == ""
    assert result.crc32 == "00000000"
    assert result.blake3 == blake3(b"").hexdigest()
    assert result.size == 0


def test_autov3_is_sha256_after_safetensors_header():
    data = make_safetensors(seed=7)
    (header_length,) = struct.unpack("<Q", data[:8])
    expected = hashlib.sha256(data[8 + header_length :]).hexdigest()
    result = hash_stream(io.BytesIO(data), safetensors=True)
    assert result.autov3 == expected
    # It ignores the header: not the same as the whole file's hash.
    assert result.autov3 != result.sha256


def test_autov3_ignores_metadata_changes_in_header():
    first = make_safetensors(seed=11)
    (header_length,) = struct.unpack("<Q", first[:8])
    header = json.loads(first[8 : 8 + header_length])
    header["__metadata__"]["modelspec.title"] = "a different title, same tensors"
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    second = struct.pack("<Q", len(raw)) + raw + first[8 + header_length :]
    a = hash_stream(io.BytesIO(first), safetensors=True)
    b = hash_stream(io.BytesIO(second), safetensors=True)
    assert a.sha256 != b.sha256
    assert a.autov3 == b.autov3


def test_autov3_empty_when_not_safetensors():
    data = make_safetensors(seed=7)
    assert hash_stream(io.BytesIO(data)).autov3 == ""


@pytest.mark.parametrize("size", [0, 3, 8])
def test_autov3_empty_for_safetensors_shorter_than_its_header(size):
    data = make_safetensors(seed=7)[:size]
    result = hash_stream(io.BytesIO(data), safetensors=True)
    assert result.autov3 == ""
    assert result.sha256 == hashlib.sha256(data).hexdigest()


def test_autov3_empty_when_header_length_runs_past_end_of_file():
    data = struct.pack("<Q", 10_000) + b"{}" + b" " * 6
    assert hash_stream(io.BytesIO(data), safetensors=True).autov3 == ""


def test_big_safetensors_gets_every_hash():
    data = _big_safetensors(AUTOV1_OFFSET + AUTOV1_LENGTH)
    result = hash_stream(io.BytesIO(data), safetensors=True)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.autov1 == hashlib.sha256(data[0x100000:0x110000]).hexdigest()[:8]
    assert result.autov2 == hashlib.sha256(data).hexdigest()[:10]
    assert result.autov3 == _autov3_of(data)
    assert result.crc32 == f"{zlib.crc32(data):08x}"
    assert result.blake3 == blake3(data).hexdigest()
    assert result.size == len(data)


@pytest.mark.parametrize("chunk_size", [7, 4096, 65537, 0x100000 - 1, 0x100000 + 1])
def test_odd_chunk_sizes_give_same_hashes_as_one_chunk(chunk_size):
    one = _feed(BIG, len(BIG))
    assert _feed(BIG, chunk_size) == one
    assert one.sha256 == BIG_SHA256


@pytest.mark.parametrize(
    "cuts",
    [
        [AUTOV1_OFFSET - 1],
        [AUTOV1_OFFSET],
        [AUTOV1_OFFSET + 1],
        [AUTOV1_OFFSET + AUTOV1_LENGTH - 1],
        [AUTOV1_OFFSET + AUTOV1_LENGTH],
        [AUTOV1_OFFSET + AUTOV1_LENGTH + 1],
        [AUTOV1_OFFSET - 1, AUTOV1_OFFSET + 1, AUTOV1_OFFSET + 2, AUTOV1_OFFSET + AUTOV1_LENGTH],
        [1, 2, 3, 8, 9, 10, AUTOV1_OFFSET + 5],
    ],
)
def test_chunks_split_at_autov1_window_edges_give_same_hashes(cuts):
    assert _feed_split_at(BIG, cuts) == _feed(BIG, len(BIG))


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 7, 8, 9, 13, 64, 65537])
def test_safetensors_autov3_same_for_any_chunking(chunk_size):
    data = make_safetensors(seed=3, tensors=6)
    expected = _autov3_of(data)
    one = _feed(data, len(data), safetensors=True)
    assert one.autov3 == expected
    assert _feed(data, chunk_size, safetensors=True) == one


@pytest.mark.parametrize("cut", [1, 4, 7, 8, 9])
def test_safetensors_length_prefix_split_across_chunks(cut):
    data = make_safetensors(seed=4)
    (header_length,) = struct.unpack("<Q", data[:8])
    end_of_header = 8 + header_length
    cuts = [cut, end_of_header - 1, end_of_header, end_of_header + 1]
    result = _feed_split_at(data, cuts, safetensors=True)
    assert result.autov3 == _autov3_of(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()


def test_big_safetensors_with_odd_chunks_matches_one_chunk():
    data = _big_safetensors(AUTOV1_OFFSET + AUTOV1_LENGTH + 17, seed=9)
    one = _feed(data, len(data), safetensors=True)
    assert one.autov3 == _autov3_of(data)
    for chunk_size in (7, 65537):
        assert _feed(data, chunk_size, safetensors=True) == one


def test_update_accepts_memoryview_and_bytearray():
    data = make_safetensors(seed=12)
    hasher = StreamHasher(safetensors=True)
    hasher.update(memoryview(data)[:10])
    hasher.update(bytearray(data[10:]))
    assert hasher.result() == _feed(data, len(data), safetensors=True)


def test_hash_stream_reads_in_several_chunks(monkeypatch):
    # hash_stream's loop must carry state between reads; force many small reads.
    monkeypatch.setattr(hashing, "CHUNK_SIZE", 65537)
    data = _big_safetensors(AUTOV1_OFFSET + AUTOV1_LENGTH, seed=21)
    result = hash_stream(io.BytesIO(data), safetensors=True)
    assert result == _feed(data, len(data), safetensors=True)
    assert result.autov1 == hashlib.sha256(data[0x100000:0x110000]).hexdigest()[:8]
    assert result.autov3 == _autov3_of(data)
