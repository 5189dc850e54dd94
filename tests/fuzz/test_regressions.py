"""Every crash the fuzz tests found, as the exact (shrunk) input that found it, or, for zip
archives, the smallest hand-made archive that fails the same way. Each test failed before
its fix in the reader and names the exception it used to raise."""

from __future__ import annotations

import io
import json
import struct
import time
import zlib

from models_hub.formats import images
from models_hub.formats.images import (
    ImageRejected,
    carries_provenance,
    parse_a1111_parameters,
    process_upload,
)
from models_hub.formats.pickles import DANGER, ERROR, SUCCESS, scan_stream
from models_hub.formats.safetensors import SafetensorsError, read_header

MAX_PIXELS = 64 * 64

# --- safetensors header reader ----------------------------------------------------------


def _reject_safetensors(data: bytes) -> str:
    try:
        read_header(io.BytesIO(data), len(data))
    except SafetensorsError as exc:
        return str(exc)
    raise AssertionError("accepted")


def test_a_dtype_that_is_a_list_is_rejected():
    """Was: TypeError: unhashable type: 'list'."""
    data = b'9\x00\x00\x00\x00\x00\x00\x00{"a": {"dtype": [], "shape": [], "data_offsets": [0, 0]}}'
    assert _reject_safetensors(data) == "Tensor 'a' has a dtype that is not a string."


def test_a_dimension_too_large_for_a_float_is_rejected():
    """Was: OverflowError: integer division result too large for a float (the message
    printed the byte count as a float)."""
    header = b'{"a": {"dtype": "F32", "shape": [' + b"9" * 308 + b'], "data_offsets": [0, 4]}}'
    data = b"p\x01\x00\x00\x00\x00\x00\x00" + header + b"\x00" * 4
    assert struct.unpack("<Q", data[:8])[0] == len(header)
    assert _reject_safetensors(data) == (
        "Tensor 'a': its shape and dtype need more bytes than the file's 4 bytes of data."
    )


def test_a_shape_of_many_huge_dimensions_is_rejected_quickly():
    """Was: 18 s for this 2 MB header (the product of 100,000 numbers of 2**64, multiplied
    out), then OverflowError."""
    shape = b",".join([b"18446744073709551616"] * 100_000)
    header = b'{"a": {"dtype": "F32", "shape": [' + shape + b'], "data_offsets": [0, 4]}}'
    data = struct.pack("<Q", len(header)) + header + b"\x00" * 4
    started = time.perf_counter()
    assert "need more bytes" in _reject_safetensors(data)
    assert time.perf_counter() - started < 2


# --- pickle scanner ---------------------------------------------------------------------


def _zip(name: bytes, data: bytes, *, method: int = 0, version: int = 20) -> bytes:
    """A one-member zip archive written field by field, so any field can be wrong."""
    crc, size = zlib.crc32(data), len(data)
    local = struct.pack(
        "<4s2B4HL2L2H", b"PK\x03\x04", version, 0, 0, method, 0, 0, crc, size, size, len(name), 0
    )
    central = struct.pack(
        "<4s4B4HL2L5H2L",
        *(b"PK\x01\x02", version, 3, version, 0, 0, method, 0, 0, crc, size, size),
        *(len(name), 0, 0, 0, 0, 0, 0),
    )
    entries = local + name + data
    directory = central + name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(directory), len(entries), 0)
    return entries + directory + end


def test_a_numpy_magic_alone_is_an_error():
    """Was: IndexError: index out of range (reading the version byte)."""
    result = scan_stream(io.BytesIO(b"\x93NUMPY"))
    assert result.status == ERROR
    assert "truncated NumPy header" in result.message


def test_a_numpy_header_that_cannot_be_built_is_an_error():
    """Was: TypeError: unhashable type: 'list' (from ast.literal_eval)."""
    data = b"\x93NUMPY\x01\x00;\x00{'descr': {[]: 1}, 'fortran_order': False, 'shape': (1,), }N."
    result = scan_stream(io.BytesIO(data))
    assert result.status == ERROR
    assert "unreadable NumPy header" in result.message


def test_an_escaped_global_name_is_read_as_the_unpickler_reads_it():
    """Was: Success. pickletools undoes the escape and reads `__builtin__.bytearray` (on the
    allowlist); the unpickler looks up the module `__builtin_\\x5f` as written."""
    result = scan_stream(io.BytesIO(b"c__builtin_\\x5f\nbytearray\n0."))
    assert result.status == DANGER
    assert result.dangerous == {"__builtin_\\x5f.bytearray"}


def test_an_unescaped_allowlisted_global_is_still_clean():
    result = scan_stream(io.BytesIO(b"c__builtin__\nbytearray\n0N."))
    assert result.status == SUCCESS
    assert result.globals == {"__builtin__.bytearray"}


def test_a_deflated_member_with_bad_data_is_an_error():
    """Was: zlib.error: Error -3 while decompressing data: invalid block type."""
    result = scan_stream(io.BytesIO(_zip(b"archive/data.pkl", b"\xff", method=8)))
    assert result.status == ERROR
    assert "archive/data.pkl: unreadable" in result.message


def test_an_lzma_member_with_bad_properties_is_an_error():
    """Was: _lzma.LZMAError: Invalid or unsupported options."""
    data = b"\x09\x04\x05\x00" + b"\xff" * 5 + b"\x00" * 8
    result = scan_stream(io.BytesIO(_zip(b"archive/data.pkl", data, method=14, version=63)))
    assert result.status == ERROR
    assert "archive/data.pkl: unreadable" in result.message


def test_a_zip_of_an_unknown_version_is_an_error():
    """Was: NotImplementedError: zip file version 25.5 (from zipfile.ZipFile itself)."""
    result = scan_stream(io.BytesIO(_zip(b"archive/data.pkl", b"N.", version=255)))
    assert result.status == ERROR
    assert "unreadable zip (zip file version 25.5)" in result.message


def test_a_member_with_an_empty_name_is_scanned():
    """Was: IndexError: string index out of range (ZipInfo.is_dir on an empty name)."""
    result = scan_stream(io.BytesIO(_zip(b"", b"cos\nsystem\n0N.")))
    assert result.status == DANGER
    assert "os.system" in result.dangerous


# --- image metadata reader --------------------------------------------------------------

PNG_1X1 = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x01\x00\x00\x00\x00"
    b"7n\xf9$"
)
PNG_IDAT_IEND = (
    b"\x00\x00\x00\nIDATx\x9cc`\x00\x00\x00\x02\x00\x01H\xaf\xa4q\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _process(data: bytes) -> images.ProcessedImage:
    return process_upload(io.BytesIO(data), max_pixels=MAX_PIXELS)


def test_a_deeply_nested_comfy_prompt_is_not_kept():
    """Was: RecursionError from json.loads, out of process_upload."""
    text = b"prompt\x00" + b"[" * 1989 + b"]" * 1989
    data = PNG_1X1 + PNG_IDAT_IEND[:22] + _chunk(b"tEXt", text) + PNG_IDAT_IEND[22:]
    assert _process(data).generation_params == {}


def test_a_comfy_prompt_with_a_number_past_the_digit_limit_is_not_kept():
    """Was: ValueError: Exceeds the limit (4300 digits) for integer string conversion
    (not a JSONDecodeError, so not caught)."""
    text = b'prompt\x00{"seed": ' + b"7" * 4301 + b"}"
    data = PNG_1X1 + _chunk(b"tEXt", text) + PNG_IDAT_IEND
    assert _process(data).generation_params == {}


def test_a_comfy_prompt_with_nan_is_not_kept():
    """Was: kept as {"cfg": nan}, which the JSONField cannot store (SQLite's JSON_VALID
    check and PostgreSQL both refuse NaN): the upload failed with a database error."""
    data = PNG_1X1 + _chunk(b"tEXt", b'prompt\x00{"cfg": NaN}') + PNG_IDAT_IEND
    params = _process(data).generation_params
    assert params == {}
    json.dumps(params, allow_nan=False)


def test_a1111_cfg_scale_nan_is_kept_as_text():
    """Was: {"cfgScale": nan} (not JSON, see above)."""
    params = parse_a1111_parameters("Steps: 20, CFG scale: nan, Seed: 999999999999999")
    assert params == {"prompt": "", "steps": 20, "cfgScale": "nan", "seed": 999999999999999}
    json.dumps(params, allow_nan=False)


def test_a1111_seed_past_the_digit_limit_is_kept_as_text():
    """Was: ValueError: Exceeds the limit (4300 digits) for integer string conversion."""
    params = parse_a1111_parameters("Steps: 20, Seed: " + "9" * 4301)
    assert params["seed"] == "9" * 4301


def test_a1111_long_settings_line_is_parsed_in_linear_time():
    """Was: 37 to 57 s for 64 KiB (the settings regex backtracked quadratically)."""
    started = time.perf_counter()
    params = parse_a1111_parameters("prompt\nSteps: 1," + " a" * 32 * 1024)
    assert time.perf_counter() - started < 1
    assert params == {"prompt": "prompt", "steps": 1}


def test_a_short_icc_chunk_after_the_pixels_is_a_rejection():
    """Was: IndexError: index out of range (Pillow reads the chunk in load(), after the
    pixels, where Image.open's own error handling no longer applies)."""
    data = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x12\x01\x00\x00\x00"
        b"\x00Y\x1b2\x12\x00\x00\x00\x1eIDATx\x9c\x05\xc1\x01\r\x00\x00\x0c\xc3 Re\x97>i\x07K"
        b"\x8b\xb3\x86\x0b\xe6\x92t\xf6pp\x05\x93x\xa5/?\x00\x00\x00\x1biCCPicc\x00\x00x\x9c"
        b"\x8b6\xd0Q\x88\xce+\xcd\xc9\xd1Q\x00\x91\xb1\xb1\x00/j\x05\xaf7\xd7\xa5\x8e\x00\x00"
        b"\x00\x05iCCPicc\x01\x00?\x96\xb9\xe5\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    try:
        _process(data)
    except ImageRejected as exc:
        assert str(exc).startswith("The image is damaged or truncated")
    else:
        raise AssertionError("accepted")


def test_a_damaged_exif_chunk_is_a_rejection():
    """Was: SyntaxError: not a TIFF file, from ImageOps.exif_transpose in process_upload."""
    data = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x0b\x00\x00\x00\x02\x08\x04\x00\x00"
        b"\x00$\xaa\xeee\x00\x00\x00&IDATx\x9c=\xc8A\n\x00\x10\x14\x05\xc0y(\xee\x7f[\xa5\xbe"
        b"\x15\xb3\x9cx\xa2`8S\xda\xef\x02\xbdd\x8fu\x01Tc\x05\x13g_\xf7M\x00\x00\x00\x0eeXIf"
        b"II*\x01\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00o\xca\\F\x00\x00\x00\x0czTXtparameters"
        b"\x00\x00e\xa0\xd7\x1b\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    try:
        _process(data)
    except ImageRejected as exc:
        assert str(exc).startswith("The image's EXIF metadata is damaged")
    else:
        raise AssertionError("accepted")


def test_provenance_of_a_webp_claiming_four_billion_pixels_is_false():
    """Was: DecompressionBombError out of carries_provenance (Image.open refuses such a
    header itself)."""
    data = b"RIFF\x00\x00\x00\x00WEBPVP8X\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x01"
    assert carries_provenance(data) is False
