"""Fuzzing the gallery image reader: `process_upload`, `make_previews` and
`open_checked_image` return a result or raise ImageRejected (what the upload form, the API
and the moderation services catch); `carries_provenance` answers True or False; and the
generation parameters read from an image are strict JSON, as the JSONField that stores them
needs.

Inputs are real small images made by Pillow in every mode each format has (PNG, JPEG, WebP,
MPO, and formats we refuse), saved with text chunks, EXIF, XMP and ICC profiles, then edited
at the chunk level (tEXt, zTXt and iTXt with any contents and compression, eXIf, iCCP, raw
EXIF blobs with hand-built IFDs; JPEG APP segments; WebP RIFF chunks), and perhaps damaged
byte by byte.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from datetime import timedelta

import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from models_hub.formats.images import (
    _A1111_SETTING,
    PROVENANCE_XMP,
    ImageRejected,
    ProcessedImage,
    carries_provenance,
    digital_source_type,
    make_previews,
    open_checked_image,
    parse_a1111_parameters,
    process_upload,
)
from tests.fuzz.mutations import mutated, note_input, random_bytes

FUZZ = settings.get_profile("fuzz")
# Pillow warns about the damaged inputs this file makes on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
# Images made here are at most 24x24; a header edited to claim more is refused by the cap.
MAX_PIXELS = 64 * 64

# --- what images carry ------------------------------------------------------------------

a1111_values = st.sampled_from(
    ["20", "7.5", "nan", "inf", "-1e999", "Euler a", '"quoted, with comma"', "", " 42 "]
) | st.text(max_size=12).filter(lambda t: "\n" not in t)
A1111_KEYS = ["Steps", "Sampler", "CFG scale", "Seed", "Size", "Model", "Model hash",
              "Clip skip", "Denoising strength", "Lora hashes", "Other"]  # fmt: skip


@st.composite
def a1111_texts(draw: st.DrawFn) -> str:
    """AUTOMATIC1111's `parameters`: prompt lines, a negative prompt, a settings line."""
    lines = draw(st.lists(st.text(max_size=20), max_size=3))
    if draw(st.booleans()):
        lines.append("Negative prompt: " + draw(st.text(max_size=20)))
    pairs = draw(st.lists(st.tuples(st.sampled_from(A1111_KEYS), a1111_values), max_size=8))
    settings_line = ", ".join(f"{k}: {v}" for k, v in pairs)
    if draw(st.booleans()):
        settings_line = f"Steps: {draw(st.integers(0, 150))}, " + settings_line
    if draw(st.integers(0, 4)) == 0:
        settings_line += ", Seed: " + "9" * draw(st.integers(15, 5000))
    return "\n".join([*lines, settings_line])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


@st.composite
def comfy_json(draw: st.DrawFn) -> str:
    """ComfyUI's `prompt` / `workflow`: JSON written by Python (NaN and all), or broken."""
    kind = draw(st.sampled_from(["json", "json", "deep", "huge number", "text"]))
    if kind == "deep":
        depth = draw(st.integers(1, 30_000))
        return "[" * depth + "]" * depth
    if kind == "huge number":
        return '{"seed": ' + "7" * draw(st.integers(1, 6000)) + "}"
    if kind == "text":
        return draw(st.text(max_size=30))
    return json.dumps(draw(json_values))


def _xmp_packets() -> st.SearchStrategy[str]:
    source = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    attribute = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:I="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'I:DigitalSourceType="{source}"/></rdf:RDF></x:xmpmeta>'
    )
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
        '<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]><l>&d;&d;&d;&d;&d;&d;</l>'
    )
    return st.sampled_from([PROVENANCE_XMP.decode(), attribute, bomb, "<x", ""]) | st.text(
        max_size=40
    )


text_keys = st.sampled_from(["parameters", "prompt", "workflow", "XML:com.adobe.xmp", "Comment"])
# PNG keywords are Latin-1, 1-79 characters.
other_keys = st.text(st.characters(max_codepoint=255), min_size=1, max_size=8)


@st.composite
def text_values(draw: st.DrawFn, key: str) -> str:
    if key == "parameters":
        return draw(a1111_texts() | st.text(max_size=30))
    if key in ("prompt", "workflow"):
        return draw(comfy_json())
    if key == "XML:com.adobe.xmp":
        return draw(_xmp_packets())
    return draw(st.text(max_size=30))


# --- EXIF -------------------------------------------------------------------------------

ORIENTATION = 0x0112


@st.composite
def exif_blobs(draw: st.DrawFn) -> bytes:
    """A TIFF header and one IFD built by hand: any tag, any type (1-13 and beyond), any
    count, values inline or at offsets that may point anywhere."""
    order = draw(st.sampled_from(["<", ">"]))
    head = (b"II*\x00" if order == "<" else b"MM\x00*") + struct.pack(order + "I", 8)
    entries = []
    for _ in range(draw(st.integers(0, 6))):
        tag = draw(
            st.sampled_from([ORIENTATION, 0x8769, 0x8825, 0x927C, 0x010F]) | st.integers(0, 0xFFFF)
        )
        kind = draw(st.integers(0, 14))
        count = draw(st.sampled_from([0, 1, 2, 4, 0xFFFFFFFF]) | st.integers(0, 64))
        value = draw(st.binary(min_size=4, max_size=4))
        entries.append(struct.pack(order + "HHI", tag, kind, count) + value)
    ifd = struct.pack(order + "H", len(entries)) + b"".join(entries)
    ifd += struct.pack(order + "I", draw(st.sampled_from([0, 8, 0xFFFFFFFF])))
    return head + ifd + draw(st.binary(max_size=24))


@st.composite
def pillow_exif(draw: st.DrawFn) -> bytes:
    """EXIF written by Pillow, with an orientation of any value and type."""
    exif = Image.Exif()
    exif[ORIENTATION] = draw(
        st.integers(0, 9)
        | st.integers(0, 2**32 - 1)
        | st.text(max_size=4)
        | st.tuples(st.integers(0, 9), st.integers(0, 9))
        | st.floats(allow_nan=False, allow_infinity=False, width=32)
    )
    if draw(st.booleans()):
        exif[0x010F] = draw(st.text(max_size=8))  # Make
    try:
        return exif.tobytes()
    except Exception:  # noqa: BLE001 - a value Pillow cannot write: write a plain one
        exif[ORIENTATION] = 6
        return exif.tobytes()


exif_data = pillow_exif() | exif_blobs().map(lambda b: b"Exif\x00\x00" + b)

# --- images -----------------------------------------------------------------------------

MODES = {
    "PNG": ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"],
    "JPEG": ["L", "RGB", "CMYK"],
    "WEBP": ["RGB", "RGBA"],
    "MPO": ["RGB"],
    "GIF": ["P"],
    "BMP": ["RGB"],
    "TIFF": ["RGB"],
}


@st.composite
def pictures(draw: st.DrawFn, fmt: str) -> Image.Image:
    mode = draw(st.sampled_from(MODES[fmt]))
    size = (draw(st.integers(1, 24)), draw(st.integers(1, 24)))
    length = len(Image.new(mode, size).tobytes())
    image = Image.frombytes(mode, size, draw(st.binary(min_size=length, max_size=length)))
    if mode == "P":
        image.putpalette(draw(st.binary(min_size=3, max_size=768)))
    return image


@st.composite
def saved_images(draw: st.DrawFn) -> bytes:
    fmt = draw(st.sampled_from(["PNG"] * 4 + ["JPEG"] * 3 + ["WEBP"] * 2 + ["MPO", "GIF", "BMP"]))
    image = draw(pictures(fmt))
    options: dict[str, object] = {}
    if draw(st.booleans()):
        options["exif"] = draw(exif_data)
    if draw(st.integers(0, 3)) == 0:
        options["icc_profile"] = draw(st.binary(max_size=64))
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        for _ in range(draw(st.integers(0, 3))):
            key = draw(text_keys | other_keys)
            value = draw(text_values(key))
            if draw(st.booleans()):
                info.add_itxt(key, value, zip=draw(st.booleans()))
            else:
                try:
                    info.add_text(key, value.encode("latin-1"), zip=draw(st.booleans()))
                except UnicodeEncodeError:
                    info.add_itxt(key, value)
        options["pnginfo"] = info
        if image.mode in ("L", "RGB", "P") and draw(st.booleans()):
            options["transparency"] = 0 if image.mode != "RGB" else (0, 0, 0)
    elif fmt in ("JPEG", "WEBP", "MPO"):
        if draw(st.booleans()):
            options["xmp"] = draw(_xmp_packets()).encode("utf-8", "surrogatepass")
        if fmt == "JPEG" and draw(st.booleans()):
            options["comment"] = draw(st.binary(max_size=30))
    if fmt == "MPO" or (fmt == "WEBP" and draw(st.integers(0, 3)) == 0):
        options["save_all"] = True
        options["append_images"] = [draw(pictures(fmt)).convert(image.mode).resize(image.size)]
    out = io.BytesIO()
    try:
        image.save(out, fmt, **options)
    except (OSError, ValueError, TypeError):  # an option this mode cannot carry: without
        out = io.BytesIO()
        image.save(out, fmt)
    return out.getvalue()


# --- chunk-level edits ------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes, crc_ok: bool = True) -> bytes:
    crc = zlib.crc32(kind + data) if crc_ok else zlib.crc32(kind + data) ^ 1
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


@st.composite
def png_chunk_data(draw: st.DrawFn, kind: bytes) -> bytes:
    key = draw(text_keys | other_keys).encode("latin-1")
    text = draw(text_values(key.decode("latin-1")))
    raw = text.encode("utf-8", "surrogatepass")
    compressed = zlib.compress(raw) if draw(st.integers(0, 4)) else draw(st.binary(max_size=16))
    if kind == b"tEXt":
        return key + b"\x00" + text.encode("latin-1", "replace")
    if kind == b"zTXt":
        return key + b"\x00" + bytes([draw(st.integers(0, 1))]) + compressed
    if kind == b"iTXt":
        flag = draw(st.integers(0, 2))
        lang, tkey = draw(st.binary(max_size=4)), draw(st.binary(max_size=6))
        body = compressed if flag == 1 else raw
        return (
            key
            + b"\x00"
            + bytes([flag, draw(st.integers(0, 1))])
            + lang
            + b"\x00"
            + tkey
            + b"\x00"
            + body
        )
    if kind == b"eXIf":
        return draw(exif_blobs())
    if kind == b"iCCP":
        return b"icc\x00\x00" + compressed
    return draw(st.binary(max_size=32))


PNG_KINDS = [b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP", b"tIME", b"pHYs", b"acTL", b"fcTL"]


@st.composite
def png_with_chunks(draw: st.DrawFn) -> bytes:
    image = draw(pictures("PNG"))
    out = io.BytesIO()
    image.save(out, "PNG")
    data = out.getvalue()
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append(data[pos : pos + 12 + length])
        pos += 12 + length
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(PNG_KINDS))
        chunk = _png_chunk(kind, draw(png_chunk_data(kind)), crc_ok=draw(st.integers(0, 9)) > 0)
        chunks.insert(draw(st.integers(1, len(chunks) - 1)), chunk)  # after IHDR, before IEND
    return data[:8] + b"".join(chunks)


@st.composite
def jpeg_with_segments(draw: st.DrawFn) -> bytes:
    image = draw(pictures("JPEG"))
    out = io.BytesIO()
    image.save(out, "JPEG")
    data = out.getvalue()
    segments = []
    for _ in range(draw(st.integers(1, 3))):
        marker, body = draw(
            st.sampled_from(["exif", "xmp", "icc", "comment", "mpf", "other"]).flatmap(
                lambda kind: st.tuples(st.just(kind), st.binary(max_size=32))
            )
        )
        if marker == "exif":
            code, body = 0xE1, b"Exif\x00\x00" + draw(exif_blobs())
        elif marker == "xmp":
            packet = draw(_xmp_packets()).encode("utf-8", "surrogatepass")
            code, body = 0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + packet
        elif marker == "icc":
            code, body = (
                0xE2,
                b"ICC_PROFILE\x00"
                + bytes(draw(st.lists(st.integers(0, 3), min_size=2, max_size=2)))
                + body,
            )
        elif marker == "mpf":
            code, body = 0xE2, b"MPF\x00" + draw(exif_blobs())
        elif marker == "comment":
            code = 0xFE
        else:
            code = draw(st.integers(0xE0, 0xEF))
        length = len(body) + 2 if draw(st.integers(0, 9)) else draw(st.integers(0, 0xFFFF))
        segments.append(bytes([0xFF, code]) + struct.pack(">H", min(length, 0xFFFF)) + body)
    return data[:2] + b"".join(segments) + data[2:]


@st.composite
def webp_with_chunks(draw: st.DrawFn) -> bytes:
    image = draw(pictures("WEBP"))
    out = io.BytesIO()
    image.save(out, "WEBP", exif=b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00", lossless=True)
    data = out.getvalue()  # a VP8X file: RIFF, size, WEBP, then chunks
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from([b"EXIF", b"XMP ", b"ICCP", b"ANIM", b"ALPH", b"VP8X"]))
        if kind == b"EXIF":
            body = draw(exif_blobs())
        elif kind == b"XMP ":
            body = draw(_xmp_packets()).encode("utf-8", "surrogatepass")
        else:
            body = draw(st.binary(max_size=24))
        chunk = kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) % 2 else b"")
        data += chunk
    if draw(st.integers(0, 9)):
        data = data[:4] + struct.pack("<I", len(data) - 8) + data[8:]
    return data


images = (
    saved_images()
    | png_with_chunks()
    | jpeg_with_segments()
    | webp_with_chunks()
    | mutated(saved_images() | png_with_chunks() | jpeg_with_segments(), max_edits=3)
)
noise = random_bytes(b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\x00\x00\x00\x00WEBPVP8X")


def _check_params(result: ProcessedImage) -> None:
    # Stored in a JSONField: NaN and Infinity are not JSON (PostgreSQL refuses them).
    json.dumps(result.generation_params, allow_nan=False)


# --- the properties ---------------------------------------------------------------------


@settings(FUZZ)
@given(images | noise)
def test_uploads_are_processed_or_rejected(data):
    note_input(data)
    try:
        result = process_upload(io.BytesIO(data), max_pixels=MAX_PIXELS)
    except ImageRejected as exc:
        assert str(exc)
        event("rejected")
        return
    event(f"processed {result.extension}")
    _check_params(result)
    with Image.open(io.BytesIO(result.content)) as again:
        assert again.size == (result.width, result.height)
    assert carries_provenance(result.content)


@settings(FUZZ)
@given(images | noise)
def test_previews_are_made_or_rejected(data):
    note_input(data)
    try:
        previews = make_previews(io.BytesIO(data), max_pixels=MAX_PIXELS)
    except ImageRejected:
        return
    assert previews.thumbnail and previews.blurhash


@settings(FUZZ)
@given(images | noise, st.integers(1, 1000))
def test_the_pixel_cap_is_a_rejection(data, max_pixels):
    note_input(data)
    try:
        image = open_checked_image(io.BytesIO(data), max_pixels)
    except ImageRejected:
        return
    assert image.width * image.height <= max_pixels


@settings(FUZZ)
@given(images | noise)
def test_provenance_is_true_or_false(data):
    note_input(data)
    assert carries_provenance(data) in (True, False)


@settings(FUZZ)
@given(_xmp_packets().map(str.encode) | st.binary(max_size=64))
def test_digital_source_type_reads_any_packet(packet):
    assert digital_source_type(packet) is None or isinstance(digital_source_type(packet), str)


@settings(FUZZ)
@given(a1111_texts() | st.text())
def test_a1111_parameters_parse_to_json(text):
    note(f"text: {text!r}")
    params = parse_a1111_parameters(text)
    json.dumps(params, allow_nan=False)


@st.composite
def long_a1111_texts(draw: st.DrawFn) -> str:
    """A settings line grown to the 64 KiB cap by repeating one piece of it."""
    piece = draw(
        st.sampled_from([" a", "a", "\t", ", ", "k: ", ' "', "a:", ",a"]) | st.text(max_size=4)
    )
    start = draw(st.sampled_from(["Steps: 1,", "Steps: 1, Seed: ", "Steps: 1 "]))
    return "prompt\n" + start + piece * (64 * 1024 // max(1, len(piece)))


@settings(
    FUZZ,
    max_examples=max(10, FUZZ.max_examples // 10),
    # Parsing 64 KiB is a matter of milliseconds; the first version of the settings-line
    # regex backtracked quadratically and took 37 s on some lines.
    deadline=timedelta(seconds=2),
)
@given(long_a1111_texts())
def test_a1111_parameters_parse_in_linear_time(text):
    parse_a1111_parameters(text)


# The settings-line regex before it was made linear: the reference for the one in use.
_QUADRATIC_SETTING = re.compile(r"\s*([\w ]+):\s*(\"[^\"]*\"|[^,]*)(?:,|$)")


@settings(FUZZ)
@given(st.text(st.sampled_from(list('ab :,"\t-\u3000\u00e9_1')), max_size=40) | a1111_texts())
def test_the_linear_settings_regex_reads_what_the_old_one_read(line):
    def pairs(pattern: re.Pattern[str]) -> list[tuple[str, str]]:
        return [(key.strip(), value) for key, value in pattern.findall(line)]

    assert pairs(_A1111_SETTING) == pairs(_QUADRATIC_SETTING)
