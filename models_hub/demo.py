"""Demo content made on the spot: sample images drawn with Pillow and tiny, valid
safetensors files, so a fresh site has something to browse without any download."""

from __future__ import annotations

import io
import json
import random
import struct

from PIL import Image, ImageDraw, PngImagePlugin


def make_safetensors(*, seed: int, dtype: str = "F16", tensors: int = 4) -> bytes:
    rng = random.Random(seed)
    width = {"F16": 2, "BF16": 2, "F32": 4}[dtype]
    header: dict[str, object] = {
        "__metadata__": {"format": "pt", "modelspec.title": f"demo {seed}"}
    }
    offset = 0
    for index in range(tensors):
        shape = [rng.randint(2, 16), rng.randint(2, 16)]
        size = shape[0] * shape[1] * width
        header[f"layer{index}.weight"] = {
            "dtype": dtype,
            "shape": shape,
            "data_offsets": [offset, offset + size],
        }
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the spec pads the header to 8 bytes with spaces
    return struct.pack("<Q", len(raw)) + raw + rng.randbytes(offset)


def make_image(*, seed: int, size: tuple[int, int] = (640, 832), prompt: str = "") -> bytes:
    """A colourful abstract picture with A1111-style generation parameters in a text chunk."""
    rng = random.Random(seed)
    width, height = size
    top = tuple(rng.randint(20, 235) for _ in range(3))
    bottom = tuple(rng.randint(20, 235) for _ in range(3))
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / max(1, height - 1)
        draw.line(
            [(0, y), (width, y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    for _ in range(rng.randint(6, 14)):
        x, y, r = rng.randint(0, width), rng.randint(0, height), rng.randint(20, 180)
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour, outline=(255, 255, 255))
        else:
            draw.rectangle([x - r, y - r // 2, x + r, y + r // 2], fill=colour)
    info = PngImagePlugin.PngInfo()
    info.add_text(
        "parameters",
        f"{prompt or 'abstract shapes'}\nNegative prompt: blurry, lowres\n"
        f"Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: {seed}, "
        f"Size: {width}x{height}",
    )
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    return out.getvalue()
