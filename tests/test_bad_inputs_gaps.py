"""Rows of BAD_INPUTS.md that no other test covered, or covered only in part (see
docs/SECURITY.md for the whole table): real inputs through the real code, nothing of the code
under test mocked."""

from __future__ import annotations

import gc
import io
import json
import pickle
import struct
import tracemalloc
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from kombu.exceptions import ContentDisallowed
from kombu.serialization import dumps as kombu_dumps
from kombu.serialization import loads as kombu_loads
from kombu.serialization import prepare_accept_content
from PIL import ExifTags, Image

from config.celery import app as celery_app
from models_hub import uploads
from models_hub.formats.images import ImageRejected, process_upload
from models_hub.models import GalleryImage, Model, ModelFile
from tests.factories import form_data

MAX_PIXELS = 40_000_000
MiB = 1024 * 1024
# A Windows executable's first bytes: what `curl -F "f=@x.exe;type=image/png"` would send.
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 496


def _png(size: tuple[int, int] = (16, 16)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# --- Row 20: files of many GB stream in bounded memory -----------------------------------------


def _safetensors_chunks(size: int, chunk: int):
    """A valid safetensors file of `size` bytes (one U8 tensor of zeros), made chunk by chunk
    so that the test itself never holds more than one chunk."""
    header = b""
    for _ in range(3):  # the header's length changes the data length: settle it
        data = size - 8 - len(header)
        header = json.dumps({"w": {"dtype": "U8", "shape": [data], "data_offsets": [0, data]}})
        header = header.encode()
    head = struct.pack("<Q", len(header)) + header
    for offset in range(0, size, chunk):
        end = min(offset + chunk, size)
        piece = head[offset:end] if offset < len(head) else b""
        yield offset, piece + b"\0" * (end - offset - len(piece))


def _upload_in_chunks(client, size: int, chunk: int) -> dict:
    created = client.post(
        "/api/uploads", {"filename": "big.safetensors", "size": size},
        content_type="application/json",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    upload_id = created.json()["id"]
    for offset, piece in _safetensors_chunks(size, chunk):
        sent = client.put(
            f"/api/uploads/{upload_id}?offset={offset}",
            data=piece,
            content_type="application/octet-stream",
        )
        assert sent.status_code == 200, sent.content
        # The test client's request and response form reference cycles that keep each
        # chunk's payload alive until a collection; a real server frees them at once.
        del sent
        gc.collect()
    # As when the chunks reached other web processes: completing reads the file back.
    uploads._RUNNING_HASHES.clear()
    done = client.post(f"/api/uploads/{upload_id}/complete")
    assert done.status_code == 200, done.content
    return done.json()


@pytest.mark.django_db
def test_row20_a_large_upload_streams_in_memory_bounded_by_the_chunk_not_the_file(
    client_for, owner, settings
):
    """256 MiB sent in 4 MiB chunks, then hashed and recognised: the peak of Python's
    allocations stays under 12 chunks (48 MiB; about 26 measured), a fifth of the file, so it
    does not grow with the file. tests/bench/bench_transfer.py measures the peak RSS for files
    of several GiB through gunicorn; this keeps the suite fast."""
    size, chunk = 256 * MiB, 4 * MiB
    settings.HUB_UPLOAD_CHUNK_BYTES = chunk
    client = client_for(owner)
    tracemalloc.start()
    try:
        done = _upload_in_chunks(client, size, chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert done["state"] == "complete" and done["format"] == "SafeTensor"
    assert peak < 12 * chunk, f"peak {peak / MiB:.0f} MiB for a {size // MiB} MiB file"


# --- Row 22: a compressed text chunk bomb ------------------------------------------------------


@pytest.mark.parametrize("where", ["before the pixels", "after the pixels"])
def test_row22_a_ztxt_chunk_that_inflates_to_50_mb_is_rejected(where):
    png = _png()
    bomb = _chunk(b"zTXt", b"parameters\0\0" + zlib.compress(b"a" * 50_000_000, 9))
    assert len(bomb) < 100_000  # small on the wire, 50 MB once inflated
    at = 33 if where == "before the pixels" else png.rindex(b"IEND") - 4  # after IHDR / IDAT
    data = png[:at] + bomb + png[at:]
    assert Image.open(io.BytesIO(_png())).size == (16, 16)
    tracemalloc.start()
    try:
        with pytest.raises(ImageRejected):
            process_upload(io.BytesIO(data), max_pixels=MAX_PIXELS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * MiB, "the text was inflated in full before being refused"


@pytest.mark.django_db
def test_row22_the_upload_form_refuses_it_with_a_field_error_and_keeps_nothing(client_for, owner):
    png = _png((320, 400))
    bomb = _chunk(b"zTXt", b"parameters\0\0" + zlib.compress(b"a" * 50_000_000, 9))
    data = png[:33] + bomb + png[33:]
    response = client_for(owner).post(
        "/upload/",
        form_data(images=[SimpleUploadedFile("bomb.png", data, content_type="image/png")]),
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    assert "images" in response.json()["errors"]
    assert not Model.objects.exists() and not GalleryImage.objects.exists()


# --- Row 25: an image + HTML polyglot is served re-encoded, with nosniff ------------------------


@pytest.mark.django_db
def test_row25_a_png_html_polyglot_is_served_reencoded_and_with_nosniff(
    client_for, owner, django_capture_on_commit_callbacks
):
    polyglot = _png((320, 400)) + b"<html><script>alert(document.cookie)</script></html>"
    assert Image.open(io.BytesIO(polyglot)).format == "PNG"  # a real PNG to image readers
    client = client_for(owner)
    data = form_data(images=[SimpleUploadedFile("x.png", polyglot, content_type="image/png")])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/upload/", data).status_code == 302
    image = GalleryImage.objects.get()
    served = client.get(image.image.url)
    assert served.status_code == 200
    body = b"".join(served.streaming_content)
    assert b"<script" not in body and b"alert(" not in body
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"


# --- Row 26: FITS and PSD, formats Pillow reads but the site refuses ------------------------------


def _fits() -> bytes:
    cards = ["SIMPLE  =                    T", "BITPIX  =                    8",
             "NAXIS   =                    2", "NAXIS1  =                    4",
             "NAXIS2  =                    4", "END"]  # fmt: skip
    header = "".join(card.ljust(80) for card in cards).encode().ljust(2880, b" ")
    return header + bytes(range(16)).ljust(2880, b"\0")


def _psd(width: int = 4, height: int = 4) -> bytes:
    return (
        b"8BPS" + struct.pack(">H", 1) + b"\0" * 6
        + struct.pack(">HIIHH", 3, height, width, 8, 3)  # 3 channels, 8 bits, RGB
        + struct.pack(">III", 0, 0, 0)  # no colour data, resources, layers
        + struct.pack(">H", 0) + bytes(3 * width * height)  # raw pixels
    )  # fmt: skip


@pytest.mark.parametrize(("make", "fmt"), [(_fits, "FITS"), (_psd, "PSD")])
def test_row26_fits_and_psd_are_rejected_though_pillow_reads_them(make, fmt):
    data = make()
    readable = Image.open(io.BytesIO(data))
    readable.load()
    assert readable.format == fmt  # the input is a real image of that format
    with pytest.raises(ImageRejected, match=f"{fmt} images are not accepted"):
        process_upload(io.BytesIO(data), max_pixels=MAX_PIXELS)


# --- Row 27: EXIF with a huge comment ------------------------------------------------------------


def test_row27_huge_exif_and_jpeg_comments_are_not_carried_into_the_served_copy():
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.Base.BodySerialNumber] = "SERIAL-0042"
    exif[ExifTags.Base.ImageDescription] = "d" * 60_000  # EXIF fits one 64 KB segment
    out = io.BytesIO()
    Image.new("RGB", (32, 16), (10, 200, 10)).save(
        out, "JPEG", exif=exif.tobytes(), comment=b"c" * 65_000
    )
    data = out.getvalue()
    assert b"SERIAL-0042" in data and b"c" * 65_000 in data and b"d" * 60_000 in data
    result = process_upload(io.BytesIO(data), max_pixels=MAX_PIXELS)
    assert b"SERIAL-0042" not in result.content and b"Canon" not in result.content
    assert b"ccccc" * 100 not in result.content and b"ddddd" * 100 not in result.content
    assert len(result.content) < 20_000


# --- Row 28: a spoofed content type -------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "upload"),
    [
        ("images", SimpleUploadedFile("x.png", EXE, content_type="image/png")),
        ("model_files", SimpleUploadedFile("x.safetensors", EXE, "application/octet-stream")),
        ("model_files", SimpleUploadedFile("x.ckpt", _png(), content_type="application/x-pytorch")),
    ],
)  # fmt: skip
def test_row28_the_declared_content_type_is_ignored_and_the_bytes_decide(
    client_for, owner, field, upload, settings
):
    response = client_for(owner).post(
        "/upload/", form_data(**{field: [upload]}), HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert field in errors and errors[field][0]["message"]
    assert not Model.objects.exists() and not ModelFile.objects.exists()
    assert not any(p.is_file() for p in settings.MEDIA_ROOT.rglob("*"))


# --- Row 29: path tricks in names, end to end through the upload form ----------------------------


@pytest.mark.django_db
def test_row29_hostile_file_names_give_generated_keys_and_clean_display_names(
    client_for, owner, django_capture_on_commit_callbacks, settings, tmp_path
):
    from tests.factories import WEIGHTS

    hostile = "../../" + "\u202e" + "evil\x00" + "n" * 10_000 + ".safetensors"
    data = form_data(model_files=[SimpleUploadedFile(hostile, WEIGHTS)])
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(owner).post("/upload/", data).status_code == 302
    stored = ModelFile.objects.get()
    assert stored.file.name.startswith("models/") and "evil" not in stored.file.name
    assert "/" not in stored.name and ".." not in stored.name
    assert "\u202e" not in stored.name and "\x00" not in stored.name
    assert len(stored.name) <= 255 and stored.name.endswith(".safetensors")
    # Every byte landed under MEDIA_ROOT, under the generated key.
    assert (settings.MEDIA_ROOT / stored.file.name).read_bytes() == WEIGHTS
    assert not list(settings.MEDIA_ROOT.parent.glob("evil*"))


# --- Row 45: forged broker messages: JSON only --------------------------------------------------


class _Canary:
    """Unpickling this would create the canary file: what a pickle consumer would run."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_row45_celery_accepts_json_only_everywhere():
    conf = celery_app.conf
    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json" and conf.result_serializer == "json"
    assert conf.event_serializer == "json"
    assert conf.result_accept_content in (None, ["json"])  # None: falls back to accept_content


def test_row45_a_pickled_message_body_is_refused_by_the_accept_list_and_never_loaded(tmp_path):
    canary = tmp_path / "canary"
    content_type, encoding, body = kombu_dumps(_Canary(str(canary)), serializer="pickle")
    assert content_type == "application/x-python-serialize"
    with pytest.raises(ContentDisallowed):
        # What a worker does with each message: the accept list as content types.
        accept = prepare_accept_content(celery_app.conf.accept_content)
        kombu_loads(body, content_type, encoding, accept=accept)
    assert not canary.exists()
    # The same bytes do run code when loaded as pickle: the canary is a real one.
    pickle.loads(body).close()
    assert canary.exists()
