"""Bring the stored copies of gallery images processed before provenance and BlurHash up to
date: the served copy and the thumbnail are re-encoded with the AI provenance XMP, and a
missing BlurHash is filled.

New bytes go under new keys and the row is switched to them with a conditional UPDATE, so a
failed write never loses the only copy, and nobody keeps the old unmarked bytes under a URL
that still works (caches, presigned links). The old objects are deleted once the row no
longer names them. Running it again does nothing to an image already done.
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from enum import StrEnum

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.db.models.fields.files import FieldFile

from models_hub.choices import JobStatus
from models_hub.formats.images import carries_provenance, make_previews, process_upload
from models_hub.jobs import TRANSIENT_ERRORS
from models_hub.models import GalleryImage, gallery_thumbnail_key, new_gallery_image_key

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    REFRESHED = "re-encoded"
    HASHED = "BlurHash filled"
    CURRENT = "already current"
    WAITING = "not processed yet (the worker will do it; run this again afterwards)"
    BROKEN = "broken, skipped (see the log)"
    CHANGED = "changed while being refreshed, skipped (run this again)"


class Broken(Exception):
    """The stored image cannot be refreshed: it is missing or does not decode."""


def _read(field: FieldFile) -> bytes:
    with field.open("rb") as stream:
        return stream.read()  # bounded: HUB_MAX_IMAGE_BYTES at upload, thumbnails are small


def _delete_quietly(storage, keys: list[str]) -> None:
    for key in keys:
        try:
            storage.delete(key)
        except Exception:  # noqa: BLE001 - an orphan is logged, never a failed refresh
            log.exception("Could not delete %s", key)


def refresh_image(image: GalleryImage) -> Outcome:
    """Refresh one image's stored copies. Raises Broken for an image that cannot be done and
    lets a storage or database error through (nothing was changed for this image then)."""
    if image.process_status != JobStatus.DONE or not image.thumbnail:
        return Outcome.WAITING  # gallery_image_process makes its thumbnail and BlurHash
    try:
        served = _read(image.image)
    except FileNotFoundError:
        raise Broken(f"its file {image.image.name} is missing") from None
    try:
        thumbnail_marked = carries_provenance(_read(image.thumbnail))
    except FileNotFoundError:
        thumbnail_marked = False  # made again from the served copy
    served_marked = carries_provenance(served)
    if served_marked and thumbnail_marked and image.blurhash:
        return Outcome.CURRENT

    max_pixels = settings.HUB_MAX_IMAGE_PIXELS
    try:
        processed = (
            None if served_marked else process_upload(io.BytesIO(served), max_pixels=max_pixels)
        )
        source = served if processed is None else processed.content
        previews = make_previews(io.BytesIO(source), max_pixels=max_pixels)
    except Exception as exc:  # noqa: BLE001 - ImageRejected or any decoder failure
        raise Broken(f"it does not decode ({exc.__class__.__name__}: {exc})") from None

    storage = image.image.storage
    written: list[str] = []
    changes: dict[str, object] = {"blurhash": previews.blurhash}
    replaced: list[str] = []
    try:
        if processed is not None:
            key = new_gallery_image_key(processed.extension)
            written.append(key)  # before the write: a part-written object is ours to delete
            written[-1] = storage.save(key, ContentFile(processed.content))
            changes.update(image=written[-1], width=processed.width, height=processed.height)
            replaced.append(image.image.name)
        if not thumbnail_marked:
            key = gallery_thumbnail_key(image, "thumb.webp")
            written.append(key)
            written[-1] = storage.save(key, ContentFile(previews.thumbnail))
            changes["thumbnail"] = written[-1]
            replaced.append(image.thumbnail.name)
        with transaction.atomic():
            # Only if the row still names the copies read above: a moderator or the worker
            # may have changed it meanwhile.
            updated = GalleryImage.objects.filter(
                pk=image.pk, image=image.image.name, thumbnail=image.thumbnail.name
            ).update(**changes)
            if updated:
                transaction.on_commit(lambda: _delete_quietly(storage, replaced), robust=True)
    except BaseException:
        _delete_quietly(storage, written)
        raise
    if not updated:
        _delete_quietly(storage, written)
        return Outcome.CHANGED
    return Outcome.REFRESHED if written else Outcome.HASHED


class Command(BaseCommand):
    help = (
        "Re-encode the served copy and thumbnail of gallery images that lack the AI provenance "
        "XMP, and fill missing BlurHashes. Safe to run again; broken images are skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=100, help="Rows read per query (default 100)."
        )

    def handle(self, *args, batch_size: int, verbosity: int, **options) -> None:
        counts: Counter[Outcome] = Counter()
        last_id = 0
        fields = ("pk", "image", "thumbnail", "blurhash", "process_status")
        while True:
            batch = list(
                GalleryImage.objects.filter(pk__gt=last_id)
                .order_by("pk")
                .only(*fields)[: max(1, batch_size)]
            )
            if not batch:
                break
            for image in batch:
                try:
                    outcome = refresh_image(image)
                except Broken as exc:
                    log.warning("Gallery image %s skipped: %s", image.pk, exc)
                    self.stderr.write(f"Image {image.pk}: {exc}; skipped.")
                    outcome = Outcome.BROKEN
                except TRANSIENT_ERRORS:
                    self.stderr.write(
                        f"Stopped at image {image.pk}: the storage or database failed."
                    )
                    self._report(counts)
                    raise
                counts[outcome] += 1
            last_id = batch[-1].pk
            if verbosity >= 2:
                self.stdout.write(f"... up to image {last_id}")
        self._report(counts)

    def _report(self, counts: Counter[Outcome]) -> None:
        total = sum(counts.values())
        self.stdout.write(f"{total} gallery images looked at:")
        for outcome in Outcome:
            self.stdout.write(f"  {counts[outcome]} {outcome.value}")
