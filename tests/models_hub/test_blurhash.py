"""BlurHash: the encoder agrees with the reference implementation, encode then decode keeps the
average colour and the coarse layout, malformed strings are refused, and every processed
gallery image gets one that the API hands out as `hash`."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image, ImageDraw

from models_hub import services
from models_hub.choices import JobStatus
from models_hub.formats import blurhash
from models_hub.formats.images import blurhash_of, make_previews, process_upload
from models_hub.models import GalleryImage
from tests.factories import ImageFactory, published_model

MAX_PIXELS = 40_000_000
RED, BLUE = (220, 30, 40), (30, 50, 210)

# A 4x3 picture of saturated colours and what blurha.sh's reference encoder (the TypeScript
# one and its Python port agree) makes of it, at 4x3 and 3x2 components.
FIXED_PICTURE = [
    [(255, 0, 0), (255, 255, 0), (0, 255, 0), (0, 0, 0)],
    [(0, 255, 255), (0, 0, 255), (255, 0, 255), (255, 255, 255)],
    [(128, 64, 32), (32, 64, 128), (200, 200, 200), (10, 20, 30)],
]
FIXED_PICTURE_4X3 = "L=Jkfm-;RP-:~o-o#YxIxh]}:ZU|"
FIXED_PICTURE_3X2 = "B=Jkfm-;RP~o-o#Y"
# The hash on blurha.sh's front page, decoded at 4x3 by the reference decoder.
DEMO_HASH = "LEHV6nWB2yk8pyo0adR*.7kCMdnj"
DEMO_HASH_4X3 = [
    [[135, 164, 177], [161, 173, 177], [181, 180, 171], [160, 172, 174]],
    [[124, 154, 169], [148, 148, 154], [164, 145, 134], [146, 152, 155]],
    [[124, 144, 154], [144, 134, 132], [163, 130, 104], [148, 140, 134]],
]


def _halves(size: tuple[int, int] = (300, 200)) -> Image.Image:
    image = Image.new("RGB", size, RED)
    ImageDraw.Draw(image).rectangle([size[0] // 2, 0, size[0], size[1]], fill=BLUE)
    return image


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# --- the encoder and the decoder --------------------------------------------------------


def test_encoder_matches_the_reference_implementation():
    pixels = np.array(FIXED_PICTURE, dtype=np.uint8)
    assert blurhash.encode(pixels, 4, 3) == FIXED_PICTURE_4X3
    assert blurhash.encode(pixels, 3, 2) == FIXED_PICTURE_3X2
    assert blurhash.encode(np.full((5, 7, 3), (40, 80, 160)), 1, 1) == "004phO"


def test_decoder_matches_the_reference_implementation():
    assert blurhash.decode(DEMO_HASH, 4, 3).tolist() == DEMO_HASH_4X3


def test_a_4x3_hash_has_28_characters_and_is_valid():
    value = blurhash_of(_halves())
    assert len(value) == 28
    assert blurhash.components(value) == (4, 3)
    assert blurhash.is_valid(value)


def test_a_plain_colour_decodes_to_about_that_colour_everywhere():
    # Not exactly: the reference transform sums cosines over pixel corners, not centres, so
    # even a flat picture has faint AC components (the reference encoder's output, too).
    decoded = blurhash.decode(blurhash_of(Image.new("RGB", (64, 48), (40, 150, 90))), 16, 12)
    assert np.abs(decoded.astype(int).mean(axis=(0, 1)) - (40, 150, 90)).max() <= 3
    assert np.abs(decoded.astype(int) - (40, 150, 90)).max() <= 16


def test_left_red_right_blue_decodes_red_on_the_left_and_blue_on_the_right():
    decoded = blurhash.decode(blurhash_of(_halves()), 40, 20).astype(int)
    left, right = decoded[:, :12].mean(axis=(0, 1)), decoded[:, -12:].mean(axis=(0, 1))
    assert left[0] > left[2] + 80, left  # red dominates on the left
    assert right[2] > right[0] + 80, right  # blue on the right
    assert np.abs(left - RED).max() < 60 and np.abs(right - BLUE).max() < 60


def test_top_and_bottom_layout_survives_too():
    image = Image.new("RGB", (120, 160), (250, 250, 250))
    ImageDraw.Draw(image).rectangle([0, 80, 120, 160], fill=(10, 10, 10))
    decoded = blurhash.decode(blurhash_of(image), 12, 16).astype(int)
    assert decoded[:4].mean() > 200 and decoded[-4:].mean() < 100


def test_the_average_colour_is_kept():
    rng = np.random.default_rng(5)
    blocks = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    source = np.asarray(Image.fromarray(blocks).resize((160, 120), Image.Resampling.NEAREST))
    decoded = blurhash.decode(blurhash.encode(source), 160, 120)
    mean_in = blurhash.srgb_to_linear(source).mean(axis=(0, 1))
    mean_out = blurhash.srgb_to_linear(decoded).mean(axis=(0, 1))
    assert np.abs(mean_in - mean_out).max() < 0.03


def test_transparent_parts_count_as_black():
    image = Image.new("RGBA", (40, 40), (255, 255, 255, 0))
    decoded = blurhash.decode(blurhash_of(image), 4, 4)
    assert decoded.max() <= 1


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "at least 6"),
        ("L=Jkf", "at least 6"),
        (FIXED_PICTURE_4X3[:-1], "need 28 characters"),
        (FIXED_PICTURE_4X3 + "0", "need 28 characters"),
        ("L=Jkfm-;RP-:~o-o#YxIxh]}:ZU<", "not base83"),
        ("L=Jkfm-;RP-:~o-o#YxIxh]}:ZU\u00e9", "not base83"),
        ("L=Jkfm-;RP-:~o-o#YxIxh]}:Z~~", "out of range"),  # 83**2 - 1 > 19**3 - 1
        ("00~~~~", "out of range"),  # an average colour past 0xFFFFFF
    ],
)
def test_malformed_hashes_are_refused(value, reason):
    assert not blurhash.is_valid(value)
    with pytest.raises(blurhash.InvalidBlurHash, match=reason):
        blurhash.validate(value)
    with pytest.raises(blurhash.InvalidBlurHash):
        blurhash.decode(value, 4, 4)


def test_components_outside_1_to_9_are_refused():
    with pytest.raises(ValueError, match="components"):
        blurhash.encode(np.zeros((4, 4, 3)), 10, 3)
    with pytest.raises(ValueError, match="components"):
        blurhash.encode(np.zeros((4, 4, 3)), 4, 0)


def test_the_hash_comes_from_a_small_copy_so_image_size_barely_matters():
    small, big = blurhash_of(_halves((300, 200))), blurhash_of(_halves((3000, 2000)))
    a, b = blurhash.decode(small, 30, 20).astype(int), blurhash.decode(big, 30, 20).astype(int)
    assert np.abs(a - b).max() <= 8


def test_previews_give_the_thumbnail_and_the_hash_of_the_same_picture():
    previews = make_previews(io.BytesIO(_png(_halves((900, 600)))), max_pixels=MAX_PIXELS)
    assert Image.open(io.BytesIO(previews.thumbnail)).size == (450, 300)
    assert previews.blurhash == blurhash_of(_halves((450, 300)))


# --- processing and the API -------------------------------------------------------------


@pytest.mark.django_db
def test_processing_a_gallery_image_stores_its_blurhash():
    processed = process_upload(io.BytesIO(_png(_halves())), max_pixels=MAX_PIXELS)
    key = default_storage.save("images/te/halves.png", ContentFile(processed.content))
    image = ImageFactory(image=key, thumbnail="", process_status=JobStatus.PENDING)

    services.gallery_image_process(image_id=image.pk)

    image.refresh_from_db()
    assert image.process_status == JobStatus.DONE
    assert blurhash.is_valid(image.blurhash) and blurhash.components(image.blurhash) == (4, 3)
    decoded = blurhash.decode(image.blurhash, 20, 10).astype(int)
    assert decoded[:, 0, 0].mean() > decoded[:, 0, 2].mean() + 80  # red on the left
    assert decoded[:, -1, 2].mean() > decoded[:, -1, 0].mean() + 80  # blue on the right


@pytest.mark.django_db
def test_an_image_that_fails_processing_keeps_no_blurhash():
    key = default_storage.save("images/te/broken.png", ContentFile(b"not an image"))
    image = ImageFactory(image=key, thumbnail="", process_status=JobStatus.PENDING)
    services.gallery_image_process(image_id=image.pk)
    image.refresh_from_db()
    assert image.process_status == JobStatus.ERROR
    assert image.blurhash == ""


@pytest.mark.django_db
def test_the_api_gives_the_blurhash_as_hash_and_null_before_processing():
    model = published_model()
    version = model.versions.get()
    hashed = model.cover_image
    GalleryImage.objects.filter(pk=hashed.pk).update(blurhash=FIXED_PICTURE_4X3)
    unhashed = ImageFactory(version=version, position=1)

    listed = Client().get("/api/v1/images", {"modelId": model.pk}).json()["items"]
    assert {item["id"]: item["hash"] for item in listed} == {
        hashed.pk: FIXED_PICTURE_4X3,
        unhashed.pk: None,
    }
    detail = Client().get(f"/api/v1/models/{model.pk}").json()
    shown = {i["id"]: i["hash"] for i in detail["modelVersions"][0]["images"]}
    assert shown == {hashed.pk: FIXED_PICTURE_4X3, unhashed.pk: None}
