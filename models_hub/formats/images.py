"""Gallery images: open with a format allowlist and a pixel cap, keep the generation
parameters as data, and re-encode so nothing else from the upload (GPS, camera serials,
trailing bytes) is ever served."""

from __future__ import annotations

import io
import json
import re
import warnings
from dataclasses import dataclass, field
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow format name -> extension of the re-encoded copy. MPO is a JPEG with extra pictures
# appended (phone cameras write it); only its first picture is kept.
ALLOWED_FORMATS = {"PNG": "png", "JPEG": "jpg", "MPO": "jpg", "WEBP": "webp"}
PARAMETERS_CAP = 64 * 1024
THUMBNAIL_WIDTH = 450


class ImageRejected(ValueError):
    """The upload is not an image this site accepts; the message says why, for a person."""


@dataclass
class ProcessedImage:
    content: bytes
    extension: str
    width: int
    height: int
    generation_params: dict[str, object] = field(default_factory=dict)


def open_checked_image(stream: BinaryIO, max_pixels: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # A decompression-bomb warning is a rejection here, not a hint.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(stream)
            if image.format not in ALLOWED_FORMATS:
                raise ImageRejected(
                    f"{image.format or 'This'} images are not accepted: use PNG, JPEG or WebP."
                )
            if image.width * image.height > max_pixels:
                raise ImageRejected(
                    f"The image is {image.width}x{image.height} pixels; the limit is "
                    f"{max_pixels:,} pixels."
                )
            image.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("The image declares more pixels than we accept.") from None
    except UnidentifiedImageError:
        raise ImageRejected("This file is not an image we can read.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"The image is damaged or truncated ({exc}).") from None
    return image


_A1111_KEYS = {
    "Steps": "steps",
    "Sampler": "sampler",
    "CFG scale": "cfgScale",
    "Seed": "seed",
    "Size": "Size",
    "Model": "Model",
    "Model hash": "Model hash",
    "Clip skip": "clipSkip",
    "Denoising strength": "denoisingStrength",
}


def parse_a1111_parameters(text: str) -> dict[str, object]:
    """Split AUTOMATIC1111's `parameters` text into prompt, negative prompt and settings."""
    text = text[:PARAMETERS_CAP]
    lines = text.strip().split("\n")
    settings_line = ""
    if lines and re.match(r"^\s*Steps:\s*\d+", lines[-1]):
        settings_line = lines.pop()
    prompt_lines, negative_lines, target = [], [], None
    for line in lines:
        if line.startswith("Negative prompt:"):
            target = negative_lines
            line = line[len("Negative prompt:") :].strip()
        (target if target is not None else prompt_lines).append(line)
    params: dict[str, object] = {"prompt": "\n".join(prompt_lines).strip()}
    if negative_lines:
        params["negativePrompt"] = "\n".join(negative_lines).strip()
    for key, value in re.findall(r"\s*([\w ]+):\s*(\"[^\"]*\"|[^,]*)(?:,|$)", settings_line):
        name = _A1111_KEYS.get(key.strip())
        if not name:
            continue
        value = value.strip().strip('"')
        if name in {"steps", "seed", "clipSkip"} and value.isascii() and value.isdigit():
            params[name] = int(value)
        elif name in {"cfgScale", "denoisingStrength"}:
            try:
                params[name] = float(value)
            except ValueError:
                params[name] = value
        else:
            params[name] = value
    return params


def extract_generation_params(image: Image.Image) -> dict[str, object]:
    info = image.info or {}
    params: dict[str, object] = {}
    text = info.get("parameters")
    if isinstance(text, str) and text.strip():
        params = parse_a1111_parameters(text)
    for comfy_key in ("prompt", "workflow"):
        raw = info.get(comfy_key)
        if isinstance(raw, str) and len(raw) <= PARAMETERS_CAP:
            try:
                params[f"comfy_{comfy_key}"] = json.loads(raw)
            except json.JSONDecodeError:
                continue
    return params


def process_upload(stream: BinaryIO, *, max_pixels: int) -> ProcessedImage:
    """Validate and re-encode an uploaded image: orientation applied, metadata dropped."""
    image = open_checked_image(stream, max_pixels)
    fmt = "JPEG" if image.format == "MPO" else image.format
    params = extract_generation_params(image)
    icc_profile = image.info.get("icc_profile")
    image = ImageOps.exif_transpose(image)
    # Pillow writes parts of `info` back on save (JPEG comments, EXIF, XMP): start clean,
    # keeping only the colour profile, which says nothing about the person.
    image.info = {"icc_profile": icc_profile} if icc_profile else {}
    if fmt == "JPEG" or image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if "A" in image.getbands() and fmt != "JPEG" else "RGB")
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=92, optimize=True)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=92)
    else:
        image.save(out, "PNG", optimize=False)
    return ProcessedImage(
        content=out.getvalue(),
        extension=ALLOWED_FORMATS[fmt],
        width=image.width,
        height=image.height,
        generation_params=params,
    )


def make_thumbnail(stream: BinaryIO, *, width: int = THUMBNAIL_WIDTH, max_pixels: int) -> bytes:
    image = open_checked_image(stream, max_pixels)
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    if image.width > width:
        height = max(1, round(image.height * width / image.width))
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "WEBP", quality=82)
    return out.getvalue()
