"""Gallery image intake: format allowlist, pixel cap, generation parameters, re-encoding."""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from PIL import ExifTags, Image, PngImagePlugin

from models_hub.formats.images import (
    PARAMETERS_CAP,
    ImageRejected,
    make_thumbnail,
    parse_a1111_parameters,
    process_upload,
)

MAX_PIXELS = 40_000_000

A1111_TEXT = (
    "a castle on a hill, golden hour\n"
    "Negative prompt: blurry, lowres\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512, Model: foo"
)


def _save(image: Image.Image, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def _png(size: tuple[int, int] = (8, 8), *, text: dict[str, str] | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    return _save(Image.new("RGB", size, (10, 120, 200)), "PNG", pnginfo=info)


def _noise_png(size: tuple[int, int] = (64, 64), seed: int = 1) -> bytes:
    rng = random.Random(seed)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    return _save(image, "PNG")


def _png_chunks(data: bytes) -> list[bytes]:
    """The chunk types of a PNG, in order."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, types = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        types.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return types


def _png_declaring(width: int, height: int) -> bytes:
    """A 1x1 PNG whose IHDR is patched to declare width x height (CRC fixed up)."""
    data = bytearray(_png((1, 1)))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def _process(data: bytes, max_pixels: int = MAX_PIXELS):
    return process_upload(io.BytesIO(data), max_pixels=max_pixels)


def _jpeg_with_gps_and_orientation(size: tuple[int, int] = (40, 20), **kwargs) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.Base.Model] = "EOS 5D Mark IV"
    exif[ExifTags.Base.Orientation] = 6
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (51.0, 30.0, 12.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (0.0, 7.0, 39.0)
    image = Image.new("RGB", size, (200, 30, 30))
    return _save(image, "JPEG", exif=exif, **kwargs)


# --- generation parameters -------------------------------------------------------------


def test_png_parameters_text_gives_a1111_generation_params():
    result = _process(_png(text={"parameters": A1111_TEXT}))
    params = result.generation_params
    assert params["prompt"] == "a castle on a hill, golden hour"
    assert params["negativePrompt"] == "blurry, lowres"
    assert params["steps"] == 20
    assert params["sampler"] == "Euler a"
    assert params["cfgScale"] == 7.0
    assert isinstance(params["cfgScale"], float)
    assert params["seed"] == 42
    assert params["Size"] == "512x512"
    assert params["Model"] == "foo"
    assert result.extension == "png"


def test_reencoded_png_carries_no_text_chunks_but_our_provenance():
    result = _process(_png(text={"parameters": A1111_TEXT, "Comment": "serial 12345"}))
    chunks = _png_chunks(result.content)
    assert not {b"tEXt", b"zTXt", b"eXIf"} & set(chunks)
    # The one iTXt is the AI-generated marker's XMP (tests/models_hub/test_image_provenance.py).
    assert chunks.count(b"iTXt") == 1
    assert b"castle" not in result.content
    assert b"serial 12345" not in result.content


def test_parse_a1111_parameters_without_negative_prompt_or_settings():
    assert parse_a1111_parameters("just a prompt") == {"prompt": "just a prompt"}


def test_parse_a1111_parameters_multiline_prompt_and_quoted_values():
    text = (
        "line one\nline two\nNegative prompt: bad\nworse\n"
        "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 7, Model hash: abc123, "
        'Clip skip: 2, Denoising strength: 0.4, Lora hashes: "a: 1, b: 2"'
    )
    params = parse_a1111_parameters(text)
    assert params["prompt"] == "line one\nline two"
    assert params["negativePrompt"] == "bad\nworse"
    assert params["steps"] == 30
    assert params["sampler"] == "DPM++ 2M Karras"
    assert params["cfgScale"] == 6.5
    assert params["seed"] == 7
    assert params["Model hash"] == "abc123"
    assert params["clipSkip"] == 2
    assert params["denoisingStrength"] == 0.4


def test_parse_a1111_parameters_caps_5mb_text():
    # BAD_INPUTS row 23.
    params = parse_a1111_parameters("a" * 5_000_000)
    assert len(params["prompt"]) <= 64 * 1024
    assert PARAMETERS_CAP == 64 * 1024


def test_parse_a1111_parameters_caps_5mb_negative_prompt():
    params = parse_a1111_parameters("p\nNegative prompt: " + "n" * 5_000_000)
    total = sum(len(str(v)) for v in params.values())
    assert total <= 64 * 1024


def test_5mb_parameters_chunk_is_capped_through_process_upload():
    # BAD_INPUTS row 23: accepted, but the stored parameters are capped.
    result = _process(_png(text={"parameters": "x" * 5_000_000}))
    assert len(result.generation_params["prompt"]) <= 64 * 1024
    assert b"xxxxxxxx" not in result.content


def test_comfy_workflow_json_is_kept_as_data():
    result = _process(_png(text={"prompt": '{"3": {"class_type": "KSampler"}}'}))
    assert result.generation_params["comfy_prompt"] == {"3": {"class_type": "KSampler"}}


# --- EXIF, orientation, metadata ------------------------------------------------------


def test_jpeg_with_gps_exif_comes_out_with_no_exif_and_orientation_applied():
    # BAD_INPUTS row 27.
    data = _jpeg_with_gps_and_orientation((40, 20))
    source = Image.open(io.BytesIO(data))
    assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the input really has GPS
    assert source.getexif()[ExifTags.Base.Orientation] == 6

    result = _process(data)
    assert result.extension == "jpg"
    # Orientation 6 (rotate 90 CW) swaps width and height.
    assert (result.width, result.height) == (20, 40)
    served = Image.open(io.BytesIO(result.content))
    assert served.format == "JPEG"
    assert served.size == (20, 40)
    assert "exif" not in served.info
    assert len(served.getexif()) == 0
    assert b"Exif\x00\x00" not in result.content
    assert b"Canon" not in result.content
    assert b"EOS 5D" not in result.content


def test_jpeg_comment_marker_is_not_carried_into_the_served_copy():
    # A COM segment is metadata from the upload like EXIF is (camera serials, locations).
    data = _jpeg_with_gps_and_orientation(comment=b"serial 12345 at 51.5N 0.1W")
    assert b"serial 12345" in data
    result = _process(data)
    assert b"serial 12345" not in result.content
    assert "comment" not in Image.open(io.BytesIO(result.content)).info


def test_png_with_exif_chunk_comes_out_without_it():
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.Base.Orientation] = 8
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "S"
    data = _save(Image.new("RGB", (30, 10), (1, 2, 3)), "PNG", exif=exif)
    result = _process(data)
    assert (result.width, result.height) == (10, 30)
    assert b"eXIf" not in set(_png_chunks(result.content))
    assert b"Canon" not in result.content


def test_webp_is_accepted_and_reencoded_as_webp():
    data = _save(Image.new("RGB", (16, 12), (5, 5, 5)), "WEBP")
    result = _process(data)
    assert result.extension == "webp"
    assert (result.width, result.height) == (16, 12)
    assert Image.open(io.BytesIO(result.content)).format == "WEBP"


def test_jpeg_with_multi_picture_segment_is_accepted_as_jpeg():
    # Many phone cameras write JPEGs with an MPF (multi-picture) segment; Pillow opens them
    # as "MPO". They are .jpg files and should be re-encoded as a plain JPEG, not refused.
    first = Image.new("RGB", (32, 16), (1, 2, 3))
    second = Image.new("RGB", (32, 16), (9, 9, 9))
    data = _save(first, "MPO", save_all=True, append_images=[second])
    assert data[:3] == b"\xff\xd8\xff"  # a JPEG stream
    result = _process(data)
    assert result.extension == "jpg"
    assert (result.width, result.height) == (32, 16)
    served = Image.open(io.BytesIO(result.content))
    assert served.format == "JPEG"
    assert getattr(served, "n_frames", 1) == 1


# --- rejections ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mode"),
    [("GIF", "P"), ("TIFF", "RGB"), ("BMP", "RGB")],
)
def test_disallowed_formats_are_rejected(fmt, mode):
    # BAD_INPUTS row 26.
    data = _save(Image.new(mode, (8, 8)), fmt)
    with pytest.raises(ImageRejected, match="not accepted"):
        _process(data)


def test_svg_is_rejected():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    with pytest.raises(ImageRejected):
        _process(svg)


def test_non_image_bytes_are_rejected():
    with pytest.raises(ImageRejected):
        _process(b"MZ\x90\x00" + b"\x00" * 200)


def test_truncated_png_is_rejected():
    # BAD_INPUTS row 24.
    data = _noise_png((64, 64))
    with pytest.raises(ImageRejected):
        _process(data[: len(data) // 2])


def test_truncated_jpeg_is_rejected():
    rng = random.Random(3)
    image = Image.frombytes("RGB", (64, 64), rng.randbytes(64 * 64 * 3))
    data = _save(image, "JPEG", quality=95)
    with pytest.raises(ImageRejected):
        _process(data[: len(data) // 2])


def test_png_declaring_20000x20000_is_rejected_before_decoding():
    # BAD_INPUTS row 21. The IDAT only holds 1 pixel, so a decode attempt would fail with
    # "truncated"; the message must be about the pixel count instead.
    data = _png_declaring(20000, 20000)
    assert Image.open(io.BytesIO(_png_declaring(300, 200))).size == (300, 200)  # patch works
    with pytest.raises(ImageRejected, match="pixels") as excinfo:
        _process(data, max_pixels=MAX_PIXELS)
    assert "truncated" not in str(excinfo.value)


def test_png_over_the_site_pixel_cap_but_under_pillows_is_rejected():
    # 7000x7000 = 49M pixels: under Pillow's own bomb threshold, over the site's 40M.
    with pytest.raises(ImageRejected, match="limit") as excinfo:
        _process(_png_declaring(7000, 7000), max_pixels=MAX_PIXELS)
    assert "7000x7000" in str(excinfo.value)


def test_thumbnail_rejects_pixel_bomb_too():
    with pytest.raises(ImageRejected, match="pixels"):
        make_thumbnail(io.BytesIO(_png_declaring(20000, 20000)), max_pixels=MAX_PIXELS)


def test_png_followed_by_script_is_reencoded_without_trailing_bytes():
    # BAD_INPUTS row 25.
    data = _png((8, 8)) + b"<script>alert(1)</script>"
    result = _process(data)
    assert b"<script" not in result.content
    assert b"alert(1)" not in result.content
    assert result.content.endswith(b"IEND\xaeB`\x82")
    assert Image.open(io.BytesIO(result.content)).size == (8, 8)


# --- thumbnails ------------------------------------------------------------------------


def test_make_thumbnail_returns_webp_no_wider_than_450():
    data = _save(Image.new("RGB", (1000, 500), (90, 90, 90)), "PNG")
    thumb = make_thumbnail(io.BytesIO(data), max_pixels=MAX_PIXELS)
    assert thumb[:4] == b"RIFF" and thumb[8:12] == b"WEBP"
    image = Image.open(io.BytesIO(thumb))
    assert image.format == "WEBP"
    assert image.width == 450
    assert image.height == 225


def test_make_thumbnail_does_not_upscale_small_images():
    data = _save(Image.new("RGBA", (120, 80), (1, 2, 3, 128)), "PNG")
    image = Image.open(io.BytesIO(make_thumbnail(io.BytesIO(data), max_pixels=MAX_PIXELS)))
    assert image.format == "WEBP"
    assert image.size == (120, 80)


def test_make_thumbnail_rejects_gif():
    data = _save(Image.new("P", (8, 8)), "GIF")
    with pytest.raises(ImageRejected):
        make_thumbnail(io.BytesIO(data), max_pixels=MAX_PIXELS)


def test_digits_from_other_scripts_in_the_settings_are_not_numbers():
    # "²" is a digit to str.isdigit() but not to int(): kept as text, never a crash.
    params = parse_a1111_parameters("a cat\nSteps: 20, Seed: ², CFG scale: 7, Clip skip: ١٢")
    assert params["steps"] == 20 and params["cfgScale"] == 7.0
    assert params["seed"] == "²" and params["clipSkip"] == "١٢"
