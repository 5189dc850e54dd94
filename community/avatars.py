"""Profile pictures: any accepted image in, a small square WebP out, nothing else kept."""

from __future__ import annotations

import io
from typing import BinaryIO

from PIL import Image, ImageOps

from models_hub.formats.images import open_checked_image

AVATAR_SIZE = 256
# A profile picture needs far fewer pixels than a gallery image; the cap keeps a hostile
# upload from costing the web process much memory before it is refused.
AVATAR_MAX_PIXELS = 25_000_000


def make_avatar(stream: BinaryIO) -> bytes:
    """The centre square of the picture, upright, AVATAR_SIZE wide, as WebP. Re-encoded from
    the pixels alone, so no EXIF, GPS or comment of the upload survives. Raises
    ImageRejected (with a message for a person) for anything that is not a usable image."""
    image = open_checked_image(stream, AVATAR_MAX_PIXELS)
    image = ImageOps.exif_transpose(image)
    # has_transparency_data, not an "A" band: a palette PNG keeps its transparency in
    # info["transparency"], and converting it to RGB painted the clear parts black.
    image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    image = ImageOps.fit(image, (AVATAR_SIZE, AVATAR_SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "WEBP", quality=85)
    return out.getvalue()
