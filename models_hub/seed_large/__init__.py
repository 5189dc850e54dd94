"""A large, realistic catalogue written in bulk, for benchmarks (`manage.py seed_large`).

plan.py decides everything with numpy first (who owns what, how popular it is, which status
each row is in); rows.py turns the plan into the rows of each table; loader.py streams them
to the database: COPY FROM STDIN on PostgreSQL, batched INSERTs elsewhere (slow, for
tests). The whole seed is one transaction, so a failure leaves the database as it was.

The rows are what the services would have left behind, so pages and the API behave as in
production: every counter is counted from the rows written (downloads from files up to
models; thumbs from reviews; likes from favourites; reactions and comments per image and
model; followers), and every derived column is computed as the services compute it (a
version's NSFW level from its images, a model's from its published versions, the cover
image, `search_document`, the license check's parents and credits).

Not seeded: notifications, collections, reports, appeals, queue items, API keys, version
parents (merges). Model files point to storage keys that hold nothing (downloads answer 503
locally); gallery images share a handful of real pictures written once to storage.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.color import no_style
from django.db import connection, models, transaction

from community.models import Comment, Favorite, Follow, Reaction, Review, User
from models_hub.demo import make_image
from models_hub.formats.images import make_previews, process_upload
from models_hub.models import DownloadDay, GalleryImage, Model, ModelFile, ModelVersion, Tag
from models_hub.seed_large.loader import Loader
from models_hub.seed_large.plan import Picture, Plan, SeedRefused, Sizes
from models_hub.seed_large.rows import MODEL_TAGS, USER_GROUPS, Rows
from moderation.models import CheckRun, ModerationAction

__all__ = ["SeedRefused", "Sizes", "Timing", "format_seconds", "seed_large"]

SAMPLE_SIZES = [(832, 1216), (1216, 832), (1024, 1024), (768, 1152), (512, 768), (896, 1152)]
SAMPLE_PICTURES = 8
# Every table written, in the order written (the foreign keys are checked at commit).
TABLES: list[type[models.Model]] = [
    User, USER_GROUPS, Tag, Model, MODEL_TAGS, ModelVersion, ModelFile, GalleryImage, CheckRun,
    ModerationAction, Review, Favorite, Comment, Reaction, Follow, DownloadDay,
]  # fmt: skip


@dataclass(frozen=True)
class Timing:
    label: str
    rows: int
    seconds: float


def seed_large(
    *,
    sizes: Sizes,
    seed: int,
    append: bool = False,
    check_runs: bool = True,
    vacuum: bool = True,
    out: Callable[[str], None] = print,
) -> list[Timing]:
    """Write the catalogue described by `sizes`; returns how long each step took.

    Refuses a database that already has models unless `append`. Meant for a quiet
    database: the tables it writes are locked (PostgreSQL) until it commits.
    """
    if not append and (count := Model.objects.count()):
        raise SeedRefused(
            f"The database already has {count:,} models: seed_large fills an empty catalogue. "
            "Pass --append (or --force) to add the seeded rows to them."
        )
    seeder = _Seeder(sizes, seed, out, check_runs=check_runs)
    seeder.run()
    if vacuum:
        seeder.analyze()
    return seeder.timings


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


class _Seeder:
    def __init__(
        self, sizes: Sizes, seed: int, out: Callable[[str], None], *, check_runs: bool
    ) -> None:
        self.sizes, self.seed, self.out, self.with_check_runs = sizes, seed, out, check_runs
        self.loader = Loader()
        self.timings: list[Timing] = []

    def run(self) -> None:
        pictures: list[Picture] = []
        self._step("sample pictures", lambda: pictures.extend(_write_pictures()))
        plan: list[Plan] = []
        self._step("plan", lambda: plan.append(Plan(self.sizes, self.seed, time.time(), pictures)))
        with transaction.atomic():
            ids = self._lock_and_number()
            tag_ids: list[int] = []
            self._step("tags", lambda: _write_tags(plan[0].tag_names, tag_ids))
            rows = Rows(plan[0], ids, tag_ids)
            self._load("users", User, rows.users)
            self._load("user groups", USER_GROUPS, rows.user_groups)
            self._load("models", Model, rows.models)
            self._load("model tags", MODEL_TAGS, rows.model_tags)
            self._load("versions", ModelVersion, rows.versions)
            self._load("files", ModelFile, rows.files)
            self._load("images", GalleryImage, rows.images)
            if self.with_check_runs:
                self._load("check runs", CheckRun, rows.check_runs)
            self._load("moderation actions", ModerationAction, rows.moderation_actions)
            self._load("reviews", Review, rows.reviews)
            self._load("favorites", Favorite, rows.favorites)
            self._load("comments", Comment, rows.comments)
            self._load("reactions", Reaction, rows.reactions)
            self._load("follows", Follow, rows.follows)
            self._load("download days", DownloadDay, rows.download_days)
            with connection.cursor() as cursor:
                for sql in connection.ops.sequence_reset_sql(no_style(), TABLES):
                    cursor.execute(sql)
            # The foreign keys are DEFERRABLE INITIALLY DEFERRED: PostgreSQL checks them
            # all here, one row at a time.
            commit_started = time.perf_counter()
        self._record("commit (foreign-key checks)", 0, time.perf_counter() - commit_started)

    def _lock_and_number(self) -> dict[type[models.Model], int]:
        """The first id of each table's new rows: one past the largest there is, with the
        tables locked against other writers until the commit (on PostgreSQL)."""
        qn = connection.ops.quote_name
        ids = {}
        with connection.cursor() as cursor:
            if self.loader.postgres:
                cursor.execute("SET LOCAL synchronous_commit = off")
                names = ", ".join(qn(t._meta.db_table) for t in TABLES)
                cursor.execute(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")
            for table in TABLES:
                cursor.execute(f"SELECT MAX(id) FROM {qn(table._meta.db_table)}")
                ids[table] = (cursor.fetchone()[0] or 0) + 1
        return ids

    def analyze(self) -> None:
        """Statistics for the planner (and, on PostgreSQL, the visibility map that
        index-only scans need), as autovacuum would have left a production database."""
        started = time.perf_counter()
        with connection.cursor() as cursor:
            # VACUUM cannot run in a transaction (a test's, or a caller's atomic block).
            if self.loader.postgres and not connection.in_atomic_block:
                cursor.execute("VACUUM (ANALYZE)")
            else:
                cursor.execute("ANALYZE")
        self._record("vacuum analyze", 0, time.perf_counter() - started)

    def _step(self, label: str, work: Callable[[], object]) -> None:
        started = time.perf_counter()
        rows = work()
        self._record(label, rows if isinstance(rows, int) else 0, time.perf_counter() - started)

    def _load(self, label: str, model: type[models.Model], rows: Callable[[], tuple]) -> None:
        columns, generator = rows()
        self._step(label, lambda: self.loader.write(model, columns, generator))

    def _record(self, label: str, rows: int, seconds: float) -> None:
        self.timings.append(Timing(label, rows, seconds))
        counted = f"{rows:>11,} rows" if rows else " " * 16
        self.out(f"{label:<30}{counted} in {format_seconds(seconds)}")


def _write_pictures() -> Iterator[Picture]:
    """A few real pictures and thumbnails that every seeded image points to, so pages, the
    media view and thumbnails work. Written once; later seeds reuse them."""
    for n in range(SAMPLE_PICTURES):
        size = SAMPLE_SIZES[n % len(SAMPLE_SIZES)]
        processed = process_upload(
            io.BytesIO(make_image(seed=9000 + n, size=size, prompt=f"seeded sample {n}")),
            max_pixels=settings.HUB_MAX_IMAGE_PIXELS,
        )
        previews = make_previews(
            io.BytesIO(processed.content), max_pixels=settings.HUB_MAX_IMAGE_PIXELS
        )
        image_key = f"images/seed/large-{n:02d}.{processed.extension}"
        thumb_key = f"thumbs/seed/large-{n:02d}.webp"
        for key, content in ((image_key, processed.content), (thumb_key, previews.thumbnail)):
            if not default_storage.exists(key):
                default_storage.save(key, ContentFile(content))
        yield Picture(image_key, thumb_key, processed.width, processed.height, previews.blurhash)


def _write_tags(names: list[str], ids: list[int]) -> int:
    """Reuse the Tag rows there are, create the others; `ids` gets each name's id, in order.
    Returns how many were created."""
    existing = dict(Tag.objects.filter(name__in=names).values_list("name", "id"))
    missing = [Tag(name=name) for name in names if name not in existing]
    Tag.objects.bulk_create(missing, ignore_conflicts=True)
    existing = dict(Tag.objects.filter(name__in=names).values_list("name", "id"))
    ids.extend(existing[name] for name in names)
    return len(missing)
