"""BlurHash (https://blurha.sh): a picture's colours and coarse layout in a short string, drawn
by the browser as a blurred placeholder while the real image loads.

The string is base83: one character for the number of components, one for the largest AC
amplitude, four for the average colour (sRGB), then two per AC component. The components are
the coefficients of a 2-D cosine transform taken in linear light.
"""

from __future__ import annotations

import math

import numpy as np

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
_DIGITS = {char: value for value, char in enumerate(ALPHABET)}
MAX_COMPONENTS = 9  # per axis: the size character holds (x - 1) + (y - 1) * 9


class InvalidBlurHash(ValueError):
    pass


def _encode83(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 83)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def _decode83(text: str) -> int:
    value = 0
    for char in text:
        value = value * 83 + _DIGITS[char]
    return value


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    """0..1 linear light -> 0..255 sRGB integers, rounded as the reference implementation does."""
    v = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
    curve = np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)
    return np.floor(curve * 255 + 0.5).astype(np.int64)


def _sign_pow(values: np.ndarray, exponent: float) -> np.ndarray:
    return np.sign(values) * np.abs(values) ** exponent


def _basis(count: int, size: int) -> np.ndarray:
    """cos(pi * k * p / size) for each component k (rows) and pixel position p (columns)."""
    return np.cos(np.pi * np.outer(np.arange(count), np.arange(size)) / size)


def encode(pixels: np.ndarray, x_components: int = 4, y_components: int = 3) -> str:
    """The BlurHash of an sRGB picture given as a (height, width, 3) array of 0..255 values.

    The cost grows with the pixel count: pass a small copy (a few dozen pixels a side)."""
    if not (1 <= x_components <= MAX_COMPONENTS and 1 <= y_components <= MAX_COMPONENTS):
        raise ValueError(f"components must be 1..{MAX_COMPONENTS} on each axis")
    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ValueError("pixels must be a non-empty (height, width, 3) array")
    height, width = pixels.shape[:2]
    linear = srgb_to_linear(pixels[..., :3])
    # factors[j, i] = scale * sum over y, x of cos_y[j, y] * cos_x[i, x] * linear[y, x]
    factors = np.einsum(
        "jy,ix,yxc->jic", _basis(y_components, height), _basis(x_components, width), linear
    )
    factors *= 2.0 / (width * height)
    factors[0, 0] /= 2.0  # the average colour is not doubled
    flat = factors.reshape(-1, 3)  # row-major: component i + j * x_components
    dc, ac = flat[0], flat[1:]

    result = _encode83((x_components - 1) + (y_components - 1) * 9, 1)
    if len(ac):
        actual_max = float(np.abs(ac).max())
        quantised_max = int(max(0, min(82, math.floor(actual_max * 166 - 0.5))))
        maximum = (quantised_max + 1) / 166
        result += _encode83(quantised_max, 1)
    else:
        maximum = 1.0
        result += _encode83(0, 1)
    r, g, b = (int(v) for v in linear_to_srgb(dc))
    result += _encode83((r << 16) + (g << 8) + b, 4)
    quantised = np.clip(np.floor(_sign_pow(ac / maximum, 0.5) * 9 + 9.5), 0, 18).astype(int)
    for qr, qg, qb in quantised:
        result += _encode83(int(qr) * 19 * 19 + int(qg) * 19 + int(qb), 2)
    return result


def components(blurhash: str) -> tuple[int, int]:
    """(x, y) component counts of a valid hash; raises InvalidBlurHash otherwise."""
    validate(blurhash)
    size = _DIGITS[blurhash[0]]
    return size % 9 + 1, size // 9 + 1


def validate(blurhash: str) -> None:
    """Raise InvalidBlurHash unless `blurhash` is well formed: base83 characters only, the
    length its size character announces, and every value within its range."""
    if not isinstance(blurhash, str) or len(blurhash) < 6:
        raise InvalidBlurHash("a BlurHash has at least 6 characters")
    bad = sorted({char for char in blurhash if char not in _DIGITS})
    if bad:
        raise InvalidBlurHash(f"not base83: {''.join(bad)!r}")
    size = _DIGITS[blurhash[0]]
    x, y = size % 9 + 1, size // 9 + 1
    expected = 4 + 2 * x * y
    if len(blurhash) != expected:
        raise InvalidBlurHash(f"{x}x{y} components need {expected} characters, not {len(blurhash)}")
    if _decode83(blurhash[2:6]) >= 1 << 24:
        raise InvalidBlurHash("the average colour is out of range")
    for start in range(6, expected, 2):
        if _decode83(blurhash[start : start + 2]) >= 19**3:
            raise InvalidBlurHash(f"component at {start} is out of range")


def is_valid(blurhash: str) -> bool:
    try:
        validate(blurhash)
    except InvalidBlurHash:
        return False
    return True


def decode(blurhash: str, width: int, height: int, punch: float = 1.0) -> np.ndarray:
    """The picture a hash describes, as a (height, width, 3) uint8 sRGB array. `punch` > 1
    strengthens the contrast, as the reference decoders allow."""
    x_components, y_components = components(blurhash)
    if width < 1 or height < 1:
        raise ValueError("width and height must be positive")
    maximum = (_decode83(blurhash[1]) + 1) / 166 * punch
    colours = np.empty((x_components * y_components, 3))
    dc = _decode83(blurhash[2:6])
    colours[0] = srgb_to_linear(np.array([dc >> 16, (dc >> 8) & 255, dc & 255]))
    for index in range(1, len(colours)):
        value = _decode83(blurhash[4 + index * 2 : 6 + index * 2])
        quantised = np.array([value // (19 * 19), (value // 19) % 19, value % 19])
        colours[index] = _sign_pow((quantised - 9) / 9, 2.0) * maximum
    grid = colours.reshape(y_components, x_components, 3)
    # pixel[y, x] = sum over j, i of cos_y[j, y] * cos_x[i, x] * grid[j, i]
    linear = np.einsum(
        "jy,ix,jic->yxc", _basis(y_components, height), _basis(x_components, width), grid
    )
    return linear_to_srgb(linear).astype(np.uint8)
