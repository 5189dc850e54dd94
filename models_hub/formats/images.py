"""Gallery images: open with a format allowlist and a pixel cap, keep the generation
parameters as data, and re-encode so nothing else from the upload (GPS, camera serials,
trailing bytes, its own XMP) is ever served. Every copy served, full size or thumbnail, says
in its XMP that it is AI-generated (IPTC digital source type), so it still says so elsewhere."""

from __future__ import annotations

import io
import json
import math
import re
import struct
import warnings
from dataclasses import dataclass, field
from typing import BinaryIO
from xml.etree import ElementTree

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from models_hub.formats import blurhash

# Pillow format name -> extension of the re-encoded copy. MPO is a JPEG with extra pictures
# appended (phone cameras write it); only its first picture is kept.
ALLOWED_FORMATS = {"PNG": "png", "JPEG": "jpg", "MPO": "jpg", "WEBP": "webp"}
PARAMETERS_CAP = 64 * 1024
THUMBNAIL_WIDTH = 450
BLURHASH_SOURCE_SIZE = 32  # pixels on the longer side of the copy the BlurHash is taken from
BLURHASH_COMPONENTS = (4, 3)

# IPTC's "Digital Source Type" (IPTC Photo Metadata, Extension schema): the controlled value
# for media made by a model trained on sampled content. C2PA and the big platforms read it.
IPTC_EXT_NS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
PROVENANCE_STATEMENT = "AI-generated image: made with a generative AI model."
PROVENANCE_XMP = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:Iptc4xmpExt="{IPTC_EXT_NS}"
    xmlns:dc="http://purl.org/dc/elements/1.1/">
   <Iptc4xmpExt:DigitalSourceType>{TRAINED_ALGORITHMIC_MEDIA}</Iptc4xmpExt:DigitalSourceType>
   <dc:description>
    <rdf:Alt><rdf:li xml:lang="x-default">{PROVENANCE_STATEMENT}</rdf:li></rdf:Alt>
   </dc:description>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="r"?>""".encode()
XMP_CAP = 64 * 1024  # an XMP packet we read back; a JPEG segment cannot hold more anyway


class ImageRejected(ValueError):
    """The upload is not an image this site accepts; the message says why, for a person."""


# What Pillow raises for data it cannot parse. Image.open itself treats SyntaxError,
# IndexError, TypeError and struct.error as "not this format", but chunks read after the
# pixels (by load()) and the EXIF parser let them out (found by tests/fuzz).
_UNPARSABLE = (OSError, SyntaxError, ValueError, IndexError, TypeError, struct.error)


@dataclass(frozen=True)
class Previews:
    thumbnail: bytes  # WebP, at most THUMBNAIL_WIDTH wide
    blurhash: str


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
    except _UNPARSABLE as exc:
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

# One "key: value" of the settings line. The key may only start where a run of word
# characters and spaces starts: a regex that could start it anywhere in the run (as
# findall tries) backtracked quadratically on long runs without a colon (37 s for
# 64 KiB). Same matches, since a key starting inside a run fails wherever the run does.
_A1111_SETTING = re.compile(r"(?<![\w ])([\w ]+):\s*(\"[^\"]*\"|[^,]*)(?:,|$)")


def _not_json(constant: str) -> object:
    raise ValueError(f"{constant} is not JSON")


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
    for key, value in _A1111_SETTING.findall(settings_line):
        name = _A1111_KEYS.get(key.strip())
        if not name:
            continue
        value = value.strip().strip('"')
        # At most 20 digits (a 64-bit seed): int() refuses more than 4,300 (ValueError).
        if name in {"steps", "seed", "clipSkip"} and value.isascii() and value.isdigit():
            params[name] = int(value) if len(value) <= 20 else value
        elif name in {"cfgScale", "denoisingStrength"}:
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            # "nan" and "inf" parse as floats but are not JSON: the JSONField refuses them.
            params[name] = number if math.isfinite(number) else value
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
                params[f"comfy_{comfy_key}"] = json.loads(raw, parse_constant=_not_json)
            except (ValueError, RecursionError):
                # Not JSON: NaN and Infinity (Python writes them; the JSONField refuses
                # them), numbers past int()'s 4,300 digits, nesting deeper than the stack.
                continue
    return params


def process_upload(stream: BinaryIO, *, max_pixels: int) -> ProcessedImage:
    """Validate and re-encode an uploaded image: orientation applied, metadata dropped."""
    image = open_checked_image(stream, max_pixels)
    fmt = "JPEG" if image.format == "MPO" else image.format
    params = extract_generation_params(image)
    icc_profile = image.info.get("icc_profile")
    try:
        image = ImageOps.exif_transpose(image)  # parses the EXIF, which load() does not
    except _UNPARSABLE as exc:
        raise ImageRejected(
            f"The image's EXIF metadata is damaged ({exc}); save the image again without it."
        ) from None
    # Pillow writes parts of `info` back on save (JPEG comments, EXIF, XMP): start clean,
    # keeping only the colour profile, which says nothing about the person.
    image.info = {"icc_profile": icc_profile} if icc_profile else {}
    if fmt == "JPEG" or image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if "A" in image.getbands() and fmt != "JPEG" else "RGB")
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=92, optimize=True, xmp=PROVENANCE_XMP)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=92, xmp=PROVENANCE_XMP)
    else:
        image.save(out, "PNG", optimize=False, pnginfo=_png_provenance())
    return ProcessedImage(
        content=out.getvalue(),
        extension=ALLOWED_FORMATS[fmt],
        width=image.width,
        height=image.height,
        generation_params=params,
    )


def make_thumbnail(stream: BinaryIO, *, width: int = THUMBNAIL_WIDTH, max_pixels: int) -> bytes:
    return make_previews(stream, width=width, max_pixels=max_pixels).thumbnail


def make_previews(stream: BinaryIO, *, width: int = THUMBNAIL_WIDTH, max_pixels: int) -> Previews:
    """The WebP thumbnail (with the provenance XMP) and the BlurHash, from one decode."""
    image = open_checked_image(stream, max_pixels)
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    if image.width > width:
        height = max(1, round(image.height * width / image.width))
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "WEBP", quality=82, xmp=PROVENANCE_XMP)
    return Previews(thumbnail=out.getvalue(), blurhash=blurhash_of(image))


def blurhash_of(image: Image.Image) -> str:
    """The BlurHash of a picture, taken from a copy of a few dozen pixels (the hash keeps 4x3
    cosine components: more pixels would cost time and change nothing). Transparent parts
    count as black, the colour of the boxes the site shows images in."""
    small = image.copy()
    small.thumbnail((BLURHASH_SOURCE_SIZE, BLURHASH_SOURCE_SIZE), Image.Resampling.BOX)
    if "A" in small.getbands() or small.mode == "P":
        rgba = small.convert("RGBA")
        small = Image.new("RGB", rgba.size)
        small.paste(rgba, mask=rgba.getchannel("A"))
    else:
        small = small.convert("RGB")
    return blurhash.encode(np.asarray(small), *BLURHASH_COMPONENTS)


# --- provenance --------------------------------------------------------------------------


def _png_provenance() -> PngImagePlugin.PngInfo:
    # The XMP specification's place in a PNG: an uncompressed iTXt chunk with this keyword.
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", PROVENANCE_XMP.decode(), zip=False)
    return info


def digital_source_type(xmp: bytes | str | None) -> str | None:
    """The IPTC digital source type an XMP packet declares, or None (no packet, unreadable
    or too long packet, no such property). Both RDF spellings are read: as an element and
    as an attribute of rdf:Description."""
    if not xmp:
        return None
    if isinstance(xmp, str):
        xmp = xmp.encode()
    if len(xmp) > XMP_CAP:
        return None
    try:
        root = ElementTree.fromstring(xmp.rstrip(b"\x00 \t\r\n"))
    except ElementTree.ParseError:
        return None
    name = f"{{{IPTC_EXT_NS}}}DigitalSourceType"
    for element in root.iter():
        if element.tag == name and element.text:
            return element.text.strip()
        if name in element.attrib:
            return element.attrib[name].strip()
    return None


def carries_provenance(data: bytes) -> bool:
    """Whether stored image bytes already say they are trained algorithmic media. Reads the
    headers only: Pillow finds a JPEG's APP1, a PNG's iTXt before the pixels and a WebP's
    XMP chunk without decoding the picture."""
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "WEBP"]) as image:
            xmp = image.info.get("xmp")
    # DecompressionBombError: a header claiming more than twice Pillow's pixel limit is
    # refused by Image.open itself, before any pixel is read (found by tests/fuzz).
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False
    return digital_source_type(xmp) == TRAINED_ALGORITHMIC_MEDIA
