"""Every copy of a gallery image the site serves says it is AI-generated: an XMP packet with
the IPTC digital source type `trainedAlgorithmicMedia`, where each format keeps XMP (JPEG
APP1, WebP `XMP ` chunk, PNG iTXt). The upload's own XMP never passes through. Images stored
before this are brought up to date by `refresh_served_images`.

The XMP is read back here by walking each format's own structure and parsing the packet,
not with the code under test."""

from __future__ import annotations

import io
import struct
from xml.etree import ElementTree

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management import call_command
from PIL import ExifTags, Image, ImageDraw, PngImagePlugin

from models_hub.choices import JobStatus
from models_hub.formats import blurhash
from models_hub.formats.images import (
    carries_provenance,
    digital_source_type,
    make_thumbnail,
    process_upload,
)
from models_hub.management.commands import refresh_served_images
from models_hub.models import GalleryImage
from tests.factories import ImageFactory
from tests.models_hub.test_s3_storage import moto_endpoint, s3_storage  # noqa: F401

MAX_PIXELS = 40_000_000
TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
IPTC_EXT = "{http://iptc.org/std/Iptc4xmpExt/2008-02-29/}"
DC = "{http://purl.org/dc/elements/1.1/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
XMP_JPEG_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"

# What an upload may carry in its own XMP: a creator's name and a claim that it is a photo.
FOREIGN_XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="' + RDF[1:-1].encode() + b'">'
    b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'xmlns:Iptc4xmpExt="' + IPTC_EXT[1:-1].encode() + b'" '
    b'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture">'
    b"<dc:creator><rdf:Seq><rdf:li>Jane Uploader, 12 Hidden Lane</rdf:li></rdf:Seq></dc:creator>"
    b"</rdf:Description></rdf:RDF></x:xmpmeta>"
)


def _picture(size: tuple[int, int] = (120, 80)) -> Image.Image:
    image = Image.new("RGB", size, (220, 30, 40))
    ImageDraw.Draw(image).rectangle([size[0] // 2, 0, size[0], size[1]], fill=(30, 50, 210))
    return image


def _save(image: Image.Image, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def _upload(fmt: str, *, foreign_xmp: bool = False) -> bytes:
    kwargs: dict[str, object] = {}
    if foreign_xmp and fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", FOREIGN_XMP.decode())
        kwargs["pnginfo"] = info
    elif foreign_xmp:
        kwargs["xmp"] = FOREIGN_XMP
    return _save(_picture(), fmt, **kwargs)


# --- reading XMP the way each format stores it -----------------------------------------


def _jpeg_xmp_packets(data: bytes) -> list[bytes]:
    """The XMP packets in a JPEG's APP1 segments, walking the markers up to the scan."""
    assert data[:2] == b"\xff\xd8"
    packets, pos = [], 2
    while pos < len(data):
        assert data[pos] == 0xFF, "lost the marker chain"
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: no metadata segments after it in our files
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        body = data[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and body.startswith(XMP_JPEG_HEADER):
            packets.append(body[len(XMP_JPEG_HEADER) :])
        pos += 2 + length
    return packets


def _png_xmp_packets(data: bytes) -> list[bytes]:
    """The XMP packets in a PNG's iTXt chunks with the XMP keyword, checking they come before
    the pixels and are stored uncompressed, as the XMP specification asks."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    packets, pos, seen_idat = [], 8, False
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        seen_idat = seen_idat or kind == b"IDAT"
        if kind == b"iTXt":
            keyword, rest = body.split(b"\x00", 1)
            if keyword == b"XML:com.adobe.xmp":
                assert not seen_idat, "XMP after the image data"
                compressed, _method = rest[0], rest[1]
                assert compressed == 0
                _lang, _translated, text = rest[2:].split(b"\x00", 2)
                packets.append(text)
        pos += 12 + length
    return packets


def _webp_xmp_packets(data: bytes) -> list[bytes]:
    """The `XMP ` chunks of a WebP, which must be the extended (VP8X) kind with the XMP flag."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    chunks, pos = [], 12
    while pos < len(data):
        kind = data[pos : pos + 4]
        (length,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 8 + length + (length & 1)
    packets = [body for kind, body in chunks if kind == b"XMP "]
    if packets:
        assert chunks[0][0] == b"VP8X" and chunks[0][1][0] & 0x04, "XMP flag not set in VP8X"
    return packets


PACKET_READERS = {"JPEG": _jpeg_xmp_packets, "PNG": _png_xmp_packets, "WEBP": _webp_xmp_packets}


def _one_packet(data: bytes) -> ElementTree.Element:
    fmt = Image.open(io.BytesIO(data)).format
    packets = PACKET_READERS[fmt](data)
    assert len(packets) == 1, f"{fmt}: {len(packets)} XMP packets"
    return ElementTree.fromstring(packets[0])


def _source_types(root: ElementTree.Element) -> list[str]:
    found = [e.text.strip() for e in root.iter(f"{IPTC_EXT}DigitalSourceType") if e.text]
    found += [
        e.attrib[f"{IPTC_EXT}DigitalSourceType"]
        for e in root.iter()
        if f"{IPTC_EXT}DigitalSourceType" in e.attrib
    ]
    return found


def _assert_marked(data: bytes) -> None:
    root = _one_packet(data)
    assert _source_types(root) == [TRAINED]
    descriptions = [li.text for li in root.iter(f"{RDF}li") if li.text]
    assert any("AI-generated" in text for text in descriptions)
    assert b"Jane Uploader" not in data and b"digitalCapture" not in data


# --- process_upload and make_thumbnail --------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_the_served_copy_carries_the_ai_source_type_in_its_formats_xmp(fmt):
    result = process_upload(io.BytesIO(_upload(fmt)), max_pixels=MAX_PIXELS)
    assert Image.open(io.BytesIO(result.content)).format == fmt
    _assert_marked(result.content)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_the_uploads_own_xmp_never_passes_through(fmt):
    data = _upload(fmt, foreign_xmp=True)
    assert b"Jane Uploader" in data  # the upload really carries it
    result = process_upload(io.BytesIO(data), max_pixels=MAX_PIXELS)
    _assert_marked(result.content)  # one packet, ours; none of the upload's words


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_the_thumbnail_carries_it_too_whatever_it_was_made_from(fmt):
    served = process_upload(io.BytesIO(_upload(fmt)), max_pixels=MAX_PIXELS).content
    _assert_marked(make_thumbnail(io.BytesIO(served), max_pixels=MAX_PIXELS))
    # Made straight from an upload with its own XMP, it still keeps only ours.
    thumb = make_thumbnail(io.BytesIO(_upload(fmt, foreign_xmp=True)), max_pixels=MAX_PIXELS)
    _assert_marked(thumb)


def test_gps_exif_is_still_stripped_when_the_provenance_is_added():
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] = "N"
    data = _save(_picture(), "JPEG", exif=exif, comment=b"serial 12345")
    result = process_upload(io.BytesIO(data), max_pixels=MAX_PIXELS)
    assert b"Exif\x00\x00" not in result.content and b"Canon" not in result.content
    assert b"serial 12345" not in result.content
    _assert_marked(result.content)


def test_pillow_reads_the_packet_back_as_xmp():
    for fmt in PACKET_READERS:
        served = process_upload(io.BytesIO(_upload(fmt)), max_pixels=MAX_PIXELS).content
        xmp = Image.open(io.BytesIO(served)).info["xmp"]
        assert _source_types(ElementTree.fromstring(xmp.rstrip(b"\x00 "))) == [TRAINED]


def test_carries_provenance_tells_marked_copies_from_others():
    served = process_upload(io.BytesIO(_upload("PNG")), max_pixels=MAX_PIXELS).content
    assert carries_provenance(served)
    assert not carries_provenance(_upload("PNG"))
    assert not carries_provenance(_upload("JPEG", foreign_xmp=True))  # says digitalCapture
    assert not carries_provenance(b"not an image")
    broken = _save(_picture(), "JPEG", xmp=b"<x:xmpmeta><unclosed>" + TRAINED.encode())
    assert not carries_provenance(broken)


def test_digital_source_type_reads_the_element_and_the_attribute_forms():
    assert digital_source_type(FOREIGN_XMP).endswith("/digitalCapture")  # the attribute
    element = (
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF[1:-1]}">'
        f'<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="{IPTC_EXT[1:-1]}">'
        f"<Iptc4xmpExt:DigitalSourceType>{TRAINED}</Iptc4xmpExt:DigitalSourceType>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    assert digital_source_type(element) == TRAINED
    assert digital_source_type(None) is None
    assert digital_source_type(b"<x/>" + b" " * 70_000) is None  # past the cap


# --- refresh_served_images --------------------------------------------------------------


def _legacy_image(fmt: str = "PNG", **fields) -> GalleryImage:
    """A row as stored before provenance: served copy and thumbnail without XMP, no hash."""
    picture = _picture((600, 400))
    served = default_storage.save(
        f"images/le/legacy.{fmt.lower().replace('jpeg', 'jpg')}", ContentFile(_save(picture, fmt))
    )
    thumb = default_storage.save(
        "thumbs/le/legacy.webp", ContentFile(_save(picture.resize((450, 300)), "WEBP"))
    )
    return ImageFactory(image=served, thumbnail=thumb, width=600, height=400, **fields)


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as stream:
        return stream.read()


def _refresh(django_capture_on_commit_callbacks, *args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("refresh_served_images", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _stored_files(media) -> set[str]:
    return {str(p.relative_to(media)) for p in media.rglob("*") if p.is_file()}


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_refresh_reencodes_the_served_copy_and_thumbnail_and_fills_the_blurhash(
    fmt, django_capture_on_commit_callbacks
):
    image = _legacy_image(fmt)
    old_image, old_thumb = image.image.name, image.thumbnail.name
    before = np.asarray(Image.open(io.BytesIO(_read(old_image))).convert("RGB"), dtype=int)

    out, _ = _refresh(django_capture_on_commit_callbacks)

    image.refresh_from_db()
    assert "1 re-encoded" in out
    assert image.image.name != old_image and image.thumbnail.name != old_thumb
    served, thumb = _read(image.image.name), _read(image.thumbnail.name)
    _assert_marked(served)
    _assert_marked(thumb)
    assert Image.open(io.BytesIO(served)).format == fmt
    after = np.asarray(Image.open(io.BytesIO(served)).convert("RGB"), dtype=int)
    assert after.shape == before.shape and np.abs(after - before).mean() < 2  # same picture
    assert (image.width, image.height) == (600, 400)
    assert blurhash.components(image.blurhash) == (4, 3)
    # The unmarked bytes are gone: their URLs no longer serve them.
    assert not default_storage.exists(old_image) and not default_storage.exists(old_thumb)


@pytest.mark.django_db
def test_refresh_run_again_changes_nothing(django_capture_on_commit_callbacks, settings):
    image = _legacy_image()
    _refresh(django_capture_on_commit_callbacks)
    image.refresh_from_db()
    done = (image.image.name, image.thumbnail.name, image.blurhash)
    files = _stored_files(settings.MEDIA_ROOT)

    out, _ = _refresh(django_capture_on_commit_callbacks)

    image.refresh_from_db()
    assert (image.image.name, image.thumbnail.name, image.blurhash) == done
    assert _stored_files(settings.MEDIA_ROOT) == files
    assert "1 already current" in out and "0 re-encoded" in out


@pytest.mark.django_db
def test_refresh_only_fills_a_missing_blurhash_of_marked_copies(django_capture_on_commit_callbacks):
    served = process_upload(io.BytesIO(_upload("PNG")), max_pixels=MAX_PIXELS).content
    image = ImageFactory(
        image=default_storage.save("images/ma/marked.png", ContentFile(served)),
        thumbnail=default_storage.save(
            "thumbs/ma/marked.webp",
            ContentFile(make_thumbnail(io.BytesIO(served), max_pixels=MAX_PIXELS)),
        ),
        blurhash="",
    )
    names = (image.image.name, image.thumbnail.name)

    out, _ = _refresh(django_capture_on_commit_callbacks)

    image.refresh_from_db()
    assert "1 BlurHash filled" in out
    assert (image.image.name, image.thumbnail.name) == names
    assert blurhash.is_valid(image.blurhash)


@pytest.mark.django_db
def test_refresh_skips_broken_images_and_deletes_nothing(
    django_capture_on_commit_callbacks, settings
):
    garbage = ImageFactory(
        image=default_storage.save("images/br/garbage.png", ContentFile(b"\x89PNG garbage")),
        thumbnail=default_storage.save("thumbs/br/garbage.webp", ContentFile(b"RIFF....")),
    )
    missing = ImageFactory(image="images/br/missing.png", thumbnail="thumbs/br/missing.webp")
    good = _legacy_image()
    files = _stored_files(settings.MEDIA_ROOT)

    out, err = _refresh(django_capture_on_commit_callbacks)

    assert "2 broken" in out and "1 re-encoded" in out
    assert f"Image {garbage.pk}:" in err and f"Image {missing.pk}:" in err
    for row in (garbage, missing):
        kept = GalleryImage.objects.get(pk=row.pk)
        assert (kept.image.name, kept.thumbnail.name, kept.blurhash) == (
            row.image.name,
            row.thumbnail.name,
            "",
        )
    good.refresh_from_db()
    remaining = _stored_files(settings.MEDIA_ROOT)
    assert {garbage.image.name, garbage.thumbnail.name} <= remaining
    assert remaining == files - {"images/le/legacy.png", "thumbs/le/legacy.webp"} | {
        good.image.name,
        good.thumbnail.name,
    }


@pytest.mark.django_db
def test_refresh_leaves_images_the_worker_has_not_processed(django_capture_on_commit_callbacks):
    pending = _legacy_image(process_status=JobStatus.PENDING)
    out, _ = _refresh(django_capture_on_commit_callbacks)
    assert "1 not processed yet" in out
    assert GalleryImage.objects.get(pk=pending.pk).image.name == pending.image.name


@pytest.mark.django_db
def test_refresh_goes_through_every_batch(django_capture_on_commit_callbacks):
    rows = [_legacy_image() for _ in range(5)]
    out, _ = _refresh(django_capture_on_commit_callbacks, "--batch-size", "2")
    assert "5 gallery images looked at" in out and "5 re-encoded" in out
    for row in rows:
        assert carries_provenance(_read(GalleryImage.objects.get(pk=row.pk).image.name))


@pytest.mark.django_db
def test_a_row_changed_during_the_refresh_is_left_as_changed(
    django_capture_on_commit_callbacks, monkeypatch, settings
):
    image = _legacy_image()
    real = refresh_served_images.make_previews

    def moderator_acts_meanwhile(*args, **kwargs):
        GalleryImage.objects.filter(pk=image.pk).update(thumbnail="thumbs/zz/other.webp")
        return real(*args, **kwargs)

    monkeypatch.setattr(refresh_served_images, "make_previews", moderator_acts_meanwhile)
    files = _stored_files(settings.MEDIA_ROOT)

    out, _ = _refresh(django_capture_on_commit_callbacks)

    assert "1 changed while being refreshed" in out
    row = GalleryImage.objects.get(pk=image.pk)
    assert (row.image.name, row.thumbnail.name) == (image.image.name, "thumbs/zz/other.webp")
    assert _stored_files(settings.MEDIA_ROOT) == files  # what it wrote is gone, nothing else


@pytest.mark.django_db
def test_a_failing_storage_stops_the_refresh_and_loses_nothing(
    django_capture_on_commit_callbacks, monkeypatch, settings
):
    image = _legacy_image()
    real_save = FileSystemStorage._save

    def disk_full_for_thumbnails(self, name, content):
        if name.startswith("thumbs/"):
            raise OSError(28, "No space left on device")
        return real_save(self, name, content)

    monkeypatch.setattr(FileSystemStorage, "_save", disk_full_for_thumbnails)
    files = _stored_files(settings.MEDIA_ROOT)

    with pytest.raises(OSError, match="No space"):
        _refresh(django_capture_on_commit_callbacks)

    row = GalleryImage.objects.get(pk=image.pk)
    assert (row.image.name, row.thumbnail.name, row.blurhash) == (
        image.image.name,
        image.thumbnail.name,
        "",
    )
    assert _stored_files(settings.MEDIA_ROOT) == files  # the new served copy was removed


@pytest.mark.django_db
def test_refresh_works_on_s3_storage(s3_storage, django_capture_on_commit_callbacks):  # noqa: F811
    picture = _picture((600, 400))
    image = ImageFactory(
        image=s3_storage.save("images/s3/legacy.jpg", ContentFile(_save(picture, "JPEG"))),
        thumbnail=s3_storage.save("thumbs/s3/legacy.webp", ContentFile(_save(picture, "WEBP"))),
    )
    old = (image.image.name, image.thumbnail.name)

    out, _ = _refresh(django_capture_on_commit_callbacks)

    image.refresh_from_db()
    assert "1 re-encoded" in out
    for name in (image.image.name, image.thumbnail.name):
        with s3_storage.open(name, "rb") as stream:
            _assert_marked(stream.read())
    assert not any(s3_storage.exists(name) for name in old)
    out, _ = _refresh(django_capture_on_commit_callbacks)
    assert "1 already current" in out
