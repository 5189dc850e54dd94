"""Figures of `GET /api/v1/models?limit=100` on a seeded PostgreSQL database: wall time per
request (median and p95), SQL queries and response bytes, against limit=1 and a few variants.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/modelhub_bench_api \\
        .venv/bin/python tests/bench/bench_api_models.py [--models 20000] [--runs 30] [--reseed]
        [--what-if] [--profile] [--plans]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres). The database named by DATABASE_URL (by
default `modelhub_bench_api`; its name must contain "bench", since a reseed empties it) is
created and migrated if needed. Settings: `tests.settings` (DEBUG off, the rate limits out of
the way), connections kept open between requests as with CONN_MAX_AGE in production.

The seed (deterministic, `--seed`): 2,000 creators (1% of them banned), chosen with a Zipf
skew; `--models` models, each with 1-3 versions, each version 1-2 files (random hex hashes)
and 2-6 gallery images; a few hundred tags, 2-5 a model, Zipf-popular; downloads from a
Pareto distribution and likes a share of them; published_at spread over two years. About 10%
of the models have R or X images (a version's level is the OR of its images', a model's the
OR of its published versions'), about 12% PG-13 ones. About 5% of the models are drafts, in
review, unpublished, blocked or deleted, and 5% of the later versions of published models are
drafts or in review: none of these may appear (checked on each request's answer). `search_document`
is filled as the services fill it (name, tags, creator, trigger words, description). The seed
stays in the database (a comment on models_hub_model records its parameters and how long it
took) and is reused by later runs with the same `--models` and `--seed`; `--reseed` forces a
new one. ANALYZE runs after seeding.

Each request goes through `django.test.Client` (the whole middleware stack, DRF, rendering).
After `--warmup` calls each, the requests are timed `--runs` times round-robin (all requests
share the same moments of the machine, so ratios come from the same run) with
time.perf_counter; p95 is the nearest-rank value. Then, per request:
- the queries, from one more call under CaptureQueriesContext;
- where the time goes: one more set of calls with timers around the database driver's
  execute, `paginate` (or `model_with_versions`: the queryset with its prefetches, as model
  objects), the JSON shapes (`model_json`, `listed_image_json`) and the markdown rendering
  inside them, and DRF's JSON renderer (medians over the calls);
- every query of that call run alone with EXPLAIN (ANALYZE, BUFFERS) through
  connection.cursor(): server time per request; the plan of the slowest query is printed
  (`--plans` prints them all).
`--profile` adds a cProfile of the main request. `--what-if` runs the slowest queries as sent
and rewritten (the NSFW filter as `nsfw_level IN (...)`, the version EXISTS without its joins
back to the model, a stored tsvector column for the ranked search, added in a transaction that
is rolled back): the evidence for the fixes proposed in docs/PERFORMANCE.md. Nothing in the
application is changed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import os
import pstats
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlencode, urlparse

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/modelhub_bench_api"
os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
os.environ.pop("REDIS_URL", None)  # the rate limiter's counters stay in this process

USERS = 2_000
BATCH = 2_000  # rows per INSERT
CHUNK = 2_000  # models generated and inserted at a time
SEED_MARK = "bench_api_models seed"


def database_name() -> str:
    parsed = urlparse(os.environ["DATABASE_URL"])
    if parsed.scheme not in {"postgres", "postgresql", "pgsql"}:
        sys.exit("DATABASE_URL must name a PostgreSQL database.")
    name = unquote(parsed.path.lstrip("/"))
    if "bench" not in name:
        sys.exit(f"Refusing to seed {name!r}: the database's name must contain 'bench'.")
    return name


def ensure_database(name: str) -> None:
    import psycopg

    parsed = urlparse(os.environ["DATABASE_URL"])
    with psycopg.connect(
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 5432,
        user=unquote(parsed.username or "postgres"),
        password=unquote(parsed.password or "") or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


DB_NAME = database_name()
if "--help" not in sys.argv and "-h" not in sys.argv:
    ensure_database(DB_NAME)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework.renderers import JSONRenderer  # noqa: E402

from community.api_keys import api_key_create  # noqa: E402
from community.models import ApiKey, User  # noqa: E402
from models_hub.api import queries, shapes, v1  # noqa: E402
from models_hub.choices import (  # noqa: E402
    CommercialUse,
    FileFormat,
    FileType,
    JobStatus,
    ModelType,
    NsfwLevel,
    Precision,
    ScanResult,
    Status,
)
from models_hub.models import (  # noqa: E402
    BaseModel,
    GalleryImage,
    License,
    Model,
    ModelFile,
    ModelVersion,
    Tag,
)

ALL_LEVELS = NsfwLevel.PG | NsfwLevel.PG13 | NsfwLevel.R | NsfwLevel.X | NsfwLevel.XXX
# Independent of the application's querysets: what anyone may see.
VISIBLE_SQL = """
    SELECT m.id, m.nsfw_level FROM models_hub_model m
    JOIN community_user u ON u.id = m.owner_id
    WHERE m.status = 'published' AND u.is_active AND EXISTS (
        SELECT 1 FROM models_hub_modelversion v WHERE v.model_id = m.id AND v.status = 'published'
    )
"""


# --- Words ------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


ADJECTIVES = _words("""Velvet Neon Dreamy Crystal Midnight Golden Silent Pastel Cinematic
Ethereal Retro Cyber Mystic Vivid Soft Dark Epic Tiny Hyper Realistic Glossy Painterly Ink
Watercolor Pixel Noir Solar Lunar Frost Ember Wild Gentle Broken Shining Hidden Ancient Modern
Urban Rustic Stellar Chrome Paper Clay Velour Amber Cobalt Scarlet Ivory Obsidian Jade""")
NOUNS = _words("""Dreams Portrait Style Landscape Mix Diffusion Vision Fantasy Detail Lighting
Armor Dress Castle City Forest Robot Knight Witch Dragon Car Interior Flowers Ocean Sketch
Garden Temple Station Harbor Valley Desert Tavern Library Market Studio Cathedral Lantern
Mirror Comet Orchid Tiger Falcon Serpent Golem Spirit Mage Samurai Pilot Courier Baker""")
SUFFIXES = ["", "", "", " XL", " v2", " LoRA", " Mix", " Pony", " Turbo", " (SD1.5)"]
TAGS = _words("""anime character style concept photorealistic woman man clothing background
landscape portrait fantasy sci-fi cyberpunk architecture car animal cute horror comic cartoon
3d pixel-art watercolor oil-painting sketch lineart manga game-character armor weapon vehicle
robot mecha food interior building city nature flower pose hands eyes hair detail lighting
photography cinematic vintage retro monster dragon elf knight witch steampunk gothic chibi
base-model checkpoint merge realistic semi-realistic abstract surreal fashion dress uniform
costume meme logo icon texture pattern isometric low-poly sculpture statue tattoo jewelry shoes
hat glasses sexy lingerie swimwear nude""")
SYLLABLES = _words("""ka ri mo to na se lu vi ze ra ko mi an el or is ta ne pu sh ya do be gi""")
PROSE = _words("""the a this model was trained on images with soft light and strong colours for
best results use it at a weight between and together with a checkpoint of your choice it works
well for portraits scenes and details but may struggle with hands text or crowded compositions
thanks to everyone who tested earlier versions feedback is welcome in the comments below
prompts are shown on the sample images negative embeddings are not needed most of the time
merged from several earlier releases balanced for stability and variety clean outputs without
heavy upscaling sampler steps cfg scale resolution hires fix recommended settings""")
SAMPLERS = ["Euler a", "DPM++ 2M Karras", "DPM++ SDE Karras", "DDIM", "UniPC"]
SIZES = [(512, 768), (768, 512), (832, 1216), (1024, 1024), (1216, 832), (512, 512)]
TYPE_WEIGHTS = {
    ModelType.LORA: 55, ModelType.CHECKPOINT: 20, ModelType.TEXTUAL_INVERSION: 8,
    ModelType.LOCON: 6, ModelType.DORA: 2, ModelType.VAE: 2, ModelType.CONTROLNET: 2,
    ModelType.UPSCALER: 1, ModelType.MOTION_MODULE: 1, ModelType.POSES: 1,
    ModelType.WORKFLOWS: 1, ModelType.OTHER: 1,
}  # fmt: skip
HIDDEN_STATUSES = {  # share of all models; the rest (95%) are published
    Status.DRAFT: 0.02, Status.UNPUBLISHED: 0.012, Status.BLOCKED: 0.01,
    Status.IN_REVIEW: 0.005, Status.DELETED: 0.003,
}  # fmt: skip


def zipf_cum_weights(n: int, s: float) -> list[float]:
    total, cum = 0.0, []
    for rank in range(1, n + 1):
        total += 1 / rank**s
        cum.append(total)
    return cum


def hex_digits(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def sentence(rng: random.Random) -> str:
    words = rng.choices(PROSE, k=rng.randint(6, 18))
    return " ".join(words).capitalize() + "."


def model_description(rng: random.Random, name: str, words: list[str], tags: list[str]) -> str:
    parts = [f"**{name}**: " + " ".join(sentence(rng) for _ in range(rng.randint(2, 5)))]
    if rng.random() < 0.7:
        parts.append(
            "## Usage\n\n"
            + f"- Weight: 0.{rng.randint(5, 9)} to 1.0\n"
            + f"- Sampler: {rng.choice(SAMPLERS)}, {rng.randint(20, 40)} steps\n"
            + (f"- Trigger words: `{'`, `'.join(words)}`\n" if words else "")
            + f"- Tags: {', '.join(tags)}"
        )
    for _ in range(rng.randint(0, 3)):
        parts.append(" ".join(sentence(rng) for _ in range(rng.randint(2, 6))))
    if rng.random() < 0.3:
        parts.append(
            "| setting | value |\n|---|---|\n"
            + f"| CFG | {rng.randint(4, 9)} |\n| clip skip | {rng.randint(1, 2)} |"
        )
    if rng.random() < 0.4:
        parts.append(f"[Changelog](https://example.invalid/{name.lower().replace(' ', '-')})")
    return "\n\n".join(parts)


def version_description(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return ""
    changes = "\n".join(f"- {sentence(rng)}" for _ in range(rng.randint(1, 4)))
    return f"Changes:\n\n{changes}"


@contextmanager
def explicit_timestamps():
    """Let the seed write created_at / updated_at (auto_now(_add) would make them all now)."""
    saved = []
    for model in (Model, ModelVersion, ModelFile, GalleryImage):
        for f in model._meta.concrete_fields:
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                saved.append((f, f.auto_now, f.auto_now_add))
                f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, auto_now, auto_now_add in saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


# --- Seeding ----------------------------------------------------------------------------------


def seed_marker(models: int, seed: int) -> str:
    return f"{SEED_MARK} models={models} seed={seed}"


def current_seed() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT obj_description('models_hub_model'::regclass, 'pg_class')")
        return cursor.fetchone()[0] or ""


def empty_tables() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE community_user, models_hub_tag, models_hub_model RESTART IDENTITY CASCADE"
        )


def tag_names(rng: random.Random) -> list[str]:
    names = list(dict.fromkeys(TAGS))
    while len(names) < 300:
        word = "".join(rng.choices(SYLLABLES, k=rng.randint(2, 3)))
        name = f"{word} {rng.choice(['style', 'character', 'concept', 'outfit', 'artist'])}"
        if name not in names:
            names.append(name)
    return names


def make_users(rng: random.Random, now) -> list[User]:
    users, seen = [], set()
    while len(users) < USERS:
        name = "".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) + str(rng.randint(0, 999))
        if name in seen:
            continue
        seen.add(name)
        users.append(
            User(
                username=name, email=f"{name}@example.invalid", password="!",
                is_active=rng.random() >= 0.01, date_joined=now - timedelta(days=800),
            )
        )  # fmt: skip
    return users


@dataclass
class SeedContext:
    rng: random.Random
    now: object
    users: list[User]
    user_cum: list[float]
    tags: list[Tag]
    tag_cum: list[float]
    licenses: list[License]
    base_models: list[BaseModel]
    base_weights: list[int]


def image_levels(rng: random.Random, kind: str, count: int, explicit: bool) -> list[int]:
    """Levels of one version's images; `explicit` forces one R or X image (kind "nsfw")."""
    if kind == "pg":
        return [NsfwLevel.PG] * count
    if kind == "pg13":
        return [rng.choice([NsfwLevel.PG, NsfwLevel.PG13]) for _ in range(count)]
    levels = [
        rng.choices([NsfwLevel.PG, NsfwLevel.PG13, NsfwLevel.R, NsfwLevel.X], [3, 2, 3, 2])[0]
        for _ in range(count)
    ]
    if explicit and not any(level & (NsfwLevel.R | NsfwLevel.X) for level in levels):
        levels[rng.randrange(count)] = rng.choice([NsfwLevel.R, NsfwLevel.X])
    return levels


def plan_model(ctx: SeedContext, index: int) -> dict:
    """One model and everything under it, as field dicts (nothing saved yet)."""
    rng, now = ctx.rng, ctx.now
    owner = rng.choices(ctx.users, cum_weights=ctx.user_cum)[0]
    roll, status = rng.random(), Status.PUBLISHED
    for hidden, share in HIDDEN_STATUSES.items():
        if roll < share:
            status = hidden
            break
        roll -= share
    kind = rng.choices(["pg", "pg13", "nsfw"], [78, 12, 10])[0]
    name = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}{rng.choice(SUFFIXES)}"
    tags = []
    for tag in rng.choices(ctx.tags, cum_weights=ctx.tag_cum, k=rng.randint(2, 5)):
        if tag not in tags:
            tags.append(tag)
    downloads = int((rng.paretovariate(1.16) - 1) * 300)
    if status != Status.PUBLISHED:
        downloads *= 10  # popular hidden models would top the list if visibility failed
    downloads = min(downloads, 4_000_000)
    likes = int(downloads * rng.uniform(0.02, 0.15))
    created = now - timedelta(days=730 * rng.random())
    was_published = status in (Status.PUBLISHED, Status.UNPUBLISHED, Status.BLOCKED)
    version_status = {
        Status.PUBLISHED: Status.PUBLISHED, Status.UNPUBLISHED: Status.PUBLISHED,
        Status.BLOCKED: Status.PUBLISHED, Status.DRAFT: Status.DRAFT,
        Status.IN_REVIEW: Status.IN_REVIEW, Status.DELETED: Status.DELETED,
    }[status]  # fmt: skip

    versions, moment, all_words = [], created, []
    for number in range(rng.choices([1, 2, 3], [50, 30, 20])[0]):
        v_status = version_status
        if number and status == Status.PUBLISHED and rng.random() < 0.05:
            v_status = rng.choice([Status.DRAFT, Status.IN_REVIEW])
        moment = min(moment + timedelta(days=rng.uniform(0, 60)), now)
        published = moment if v_status == Status.PUBLISHED else None
        count = rng.randint(2, 6)
        levels = image_levels(rng, kind, count, explicit=number == 0)
        words = [
            "".join(rng.choices(SYLLABLES, k=3)) + rng.choice(["style", "", "_v"])
            for _ in range(rng.randint(0, 3))
        ]
        if v_status == Status.PUBLISHED:
            all_words += words
        files = []
        for f_index in range(rng.choices([1, 2], [60, 40])[0]):
            sha256 = hex_digits(rng, 64)
            base = f"{name.lower().replace(' ', '_')}_v{number + 1}"
            files.append(
                dict(
                    file=f"models/{sha256[:2]}/{hex_digits(rng, 32)}.safetensors",
                    name=f"{base}{'' if f_index == 0 else '_pruned'}.safetensors",
                    size_bytes=rng.randint(10 << 20, 7 << 30),
                    format=FileFormat.SAFETENSOR,
                    file_type=FileType.MODEL if f_index == 0 else FileType.PRUNED_MODEL,
                    precision=rng.choice([Precision.FP16, Precision.BF16, Precision.FP32]),
                    is_primary=f_index == 0,
                    sha256=sha256, autov1=hex_digits(rng, 8), autov2=sha256[:10],
                    autov3=hex_digits(rng, 64), crc32=hex_digits(rng, 8),
                    blake3=hex_digits(rng, 64), hash_status=JobStatus.DONE,
                    scan_result=ScanResult.SUCCESS, scanner_version=1, scanned_at=moment,
                    tensor_count=rng.randint(200, 2500),
                    metadata={"ss_network_dim": str(rng.choice([16, 32, 64, 128]))},
                    job_updated_at=moment, created_at=moment,
                )
            )  # fmt: skip
        images = []
        for position, level in enumerate(levels):
            width, height = rng.choice(SIZES)
            key = hex_digits(rng, 32)
            params = {}
            if rng.random() < 0.7:
                params = {
                    "prompt": ", ".join(rng.choices(PROSE + TAGS, k=rng.randint(8, 30))),
                    "negativePrompt": "lowres, bad anatomy, worst quality",
                    "steps": rng.randint(20, 40), "sampler": rng.choice(SAMPLERS),
                    "cfgScale": rng.randint(4, 9), "seed": rng.getrandbits(32),
                    "Size": f"{width}x{height}", "Model": name,
                }  # fmt: skip
            images.append(
                dict(
                    image=f"images/{key[:2]}/{key}.png", thumbnail=f"thumbs/{key[:2]}/{key}.webp",
                    width=width, height=height, nsfw_level=level, generation_params=params,
                    position=position, process_status=JobStatus.DONE, job_updated_at=moment,
                    created_at=moment,
                )
            )  # fmt: skip
        version_level = NsfwLevel.combine(levels)
        versions.append(
            dict(
                fields=dict(
                    name=f"v{number + 1}.0", description=version_description(rng),
                    base_model=rng.choices(ctx.base_models, ctx.base_weights)[0],
                    trained_words=words, status=v_status, nsfw_level=version_level,
                    declared_nsfw_level=version_level,
                    decision="publish" if published else "",
                    decided_at=published, download_count=downloads // (number + 2),
                    created_at=moment, updated_at=moment, published_at=published,
                ),
                files=files,
                images=images,
            )
        )  # fmt: skip

    counted = [v for v in versions if v["fields"]["status"] == Status.PUBLISHED] or versions
    model_level = 0
    for version in counted:
        model_level |= version["fields"]["nsfw_level"]
    license = rng.choice(ctx.licenses)
    description = model_description(rng, name, all_words, [t.name for t in tags])
    document = [name, " ".join(t.name for t in tags), owner.username, " ".join(all_words)]
    model = dict(
        owner=owner, name=name, description=description,
        type=rng.choices(list(TYPE_WEIGHTS), list(TYPE_WEIGHTS.values()))[0],
        status=status, nsfw_level=model_level or NsfwLevel.PG, license=license,
        allow_commercial_use=rng.choice(list(CommercialUse)),
        allow_no_credit=rng.random() < 0.6, allow_derivatives=rng.random() < 0.9,
        allow_different_license=rng.random() < 0.3, download_count=downloads,
        like_count=likes, search_document="\n".join([*document, description[:5000]]),
        created_at=created, updated_at=moment,
        published_at=versions[0]["fields"]["created_at"] if was_published else None,
    )  # fmt: skip
    return {"fields": model, "tags": tags, "versions": versions}


def seed(models: int, seed_value: int) -> float:
    started = time.perf_counter()
    rng = random.Random(seed_value)
    now = timezone.now().replace(microsecond=0)
    empty_tables()
    with transaction.atomic(), explicit_timestamps():
        users = User.objects.bulk_create(make_users(rng, now), batch_size=BATCH)
        rng.shuffle(users)  # popularity ranks do not follow the ids
        tags = Tag.objects.bulk_create([Tag(name=n) for n in tag_names(rng)], batch_size=BATCH)
        bases = list(BaseModel.objects.order_by("position"))
        weights = {"sd-1-5": 30, "sdxl-1-0": 25, "pony": 15, "illustrious": 12, "flux-1-dev": 10}
        ctx = SeedContext(
            rng=rng, now=now, users=users, user_cum=zipf_cum_weights(len(users), 1.1),
            tags=tags, tag_cum=zipf_cum_weights(len(tags), 0.9),
            licenses=list(License.objects.filter(is_other=False)),
            base_models=bases, base_weights=[weights.get(b.slug, 2) for b in bases],
        )  # fmt: skip
        through = Model.tags.through
        for start in range(0, models, CHUNK):
            plans = [plan_model(ctx, i) for i in range(start, min(start + CHUNK, models))]
            rows = Model.objects.bulk_create(
                [Model(**plan["fields"]) for plan in plans], batch_size=BATCH
            )
            links, versions, version_plans = [], [], []
            for row, plan in zip(rows, plans, strict=True):
                links += [through(model_id=row.pk, tag_id=tag.pk) for tag in plan["tags"]]
                for version in plan["versions"]:
                    versions.append(ModelVersion(model=row, **version["fields"]))
                    version_plans.append(version)
            through.objects.bulk_create(links, batch_size=BATCH)
            versions = ModelVersion.objects.bulk_create(versions, batch_size=BATCH)
            files, images = [], []
            for version, plan in zip(versions, version_plans, strict=True):
                files += [ModelFile(version=version, **f) for f in plan["files"]]
                images += [GalleryImage(version=version, **i) for i in plan["images"]]
            ModelFile.objects.bulk_create(files, batch_size=BATCH)
            GalleryImage.objects.bulk_create(images, batch_size=BATCH)
        with connection.cursor() as cursor:
            # The cover, as model_refresh_derived picks it: a PG image of the newest published
            # version first, else any image of a published version.
            cursor.execute(
                """
                UPDATE models_hub_model m SET cover_image_id = c.image_id
                FROM (
                    SELECT DISTINCT ON (v.model_id) v.model_id, i.id AS image_id
                    FROM models_hub_galleryimage i
                    JOIN models_hub_modelversion v ON v.id = i.version_id
                    WHERE v.status = 'published'
                    ORDER BY v.model_id, i.nsfw_level <> 1, v.published_at DESC, i.position, i.id
                ) c
                WHERE c.model_id = m.id
                """
            )
        # The API key's owner: no models, every browsing level.
        User.objects.create(
            username="bench-reader", email="bench-reader@example.invalid", password="!",
            browsing_level=int(ALL_LEVELS),
        )  # fmt: skip
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        mark = f"{seed_marker(models, seed_value)} inserts={seconds:.1f}s date={now:%Y-%m-%d}"
        cursor.execute(f"COMMENT ON TABLE models_hub_model IS '{mark}'")
    return time.perf_counter() - started


def database_summary() -> dict[str, int]:
    sql = {
        "users": "SELECT count(*) FROM community_user",
        "tags": "SELECT count(*) FROM models_hub_tag",
        "models": "SELECT count(*) FROM models_hub_model",
        "versions": "SELECT count(*) FROM models_hub_modelversion",
        "files": "SELECT count(*) FROM models_hub_modelfile",
        "images": "SELECT count(*) FROM models_hub_galleryimage",
        "model tags": "SELECT count(*) FROM models_hub_model_tags",
        "visible models": f"SELECT count(*) FROM ({VISIBLE_SQL}) v",
        "visible PG models": f"SELECT count(*) FROM ({VISIBLE_SQL}) v WHERE nsfw_level & 62 = 0",
        "visible R/X models": f"SELECT count(*) FROM ({VISIBLE_SQL}) v WHERE nsfw_level & 12 > 0",
    }
    out = {}
    with connection.cursor() as cursor:
        for label, query in sql.items():
            cursor.execute(query)
            out[label] = cursor.fetchone()[0]
    return out


# --- Measuring --------------------------------------------------------------------------------


@dataclass
class Case:
    label: str
    path: str
    keyed: bool = False
    times: list[float] = field(default_factory=list)
    response: object = None
    queries: list[dict] = field(default_factory=list)
    parts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    explain: list[tuple[float, float, str, str]] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times) * 1000

    @property
    def p95(self) -> float:
        ordered = sorted(self.times)
        return ordered[math.ceil(0.95 * len(ordered)) - 1] * 1000


def url(path: str, **params) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def get(client: Client, case: Case, headers: dict):
    response = client.get(case.path, **(headers if case.keyed else {}))
    if response.status_code != 200:
        sys.exit(f"{case.label}: {response.status_code} {response.content[:300]!r}")
    return response


class Timers:
    """Timers around the parts of a request (see the module docstring); nested parts are
    counted inside their parent as well."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, name: str, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.totals[name] += time.perf_counter() - started
                self.calls[name] += 1

        return timed

    def sql(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.totals["sql"] += time.perf_counter() - started

    @contextmanager
    def installed(self):
        patches = [
            (v1, "paginate"), (queries, "model_with_versions"), (v1, "model_json"),
            (v1, "listed_image_json"), (shapes, "render_markdown"), (JSONRenderer, "render"),
        ]  # fmt: skip
        names = {
            "paginate": "fetch", "model_with_versions": "fetch", "model_json": "shapes",
            "listed_image_json": "shapes", "render_markdown": "markdown", "render": "json",
        }  # fmt: skip
        originals = [(owner, attr, getattr(owner, attr)) for owner, attr in patches]
        for owner, attr, original in originals:
            setattr(owner, attr, self.wrap(names[attr], original))
        try:
            with connection.execute_wrapper(self.sql):
                yield
        finally:
            for owner, attr, original in originals:
                setattr(owner, attr, original)


def measure_parts(client: Client, case: Case, headers: dict, calls: int) -> None:
    for _ in range(calls):
        timers = Timers()
        with timers.installed():
            started = time.perf_counter()
            get(client, case, headers)
            total = time.perf_counter() - started
        t = timers.totals
        case.parts["request"].append(total)
        for name in ("fetch", "sql", "shapes", "markdown", "json"):
            case.parts[name].append(t[name])
        case.parts["other"].append(total - t["fetch"] - t["shapes"] - t["json"])
        case.parts["markdown calls"].append(timers.calls["markdown"])


def explain(case: Case) -> None:
    with connection.cursor() as cursor:
        for query in case.queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            execution = float(re.search(r"Execution Time: ([\d.]+)", plan).group(1))
            planning = float(re.search(r"Planning Time: ([\d.]+)", plan).group(1))
            case.explain.append((execution, planning, sql, plan))


def time_sql_alone(sql: str, runs: int) -> float:
    times = []
    with connection.cursor() as cursor:
        for _ in range(runs):
            started = time.perf_counter()
            cursor.execute(sql)
            cursor.fetchall()
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f}"


def short(sql: str, width: int = 90) -> str:
    sql = " ".join(sql.split())
    table = re.search(r'FROM "(\w+)"', sql)
    what = table.group(1) if table else sql[:30]
    if sql.upper().startswith("SELECT COUNT(*)"):
        what = f"COUNT over {what}"
    return what[:width]


def check_answers(cases: dict[str, Case], visible: dict[int, int], reader: User) -> list[str]:
    """Nothing hidden, nothing above the caller's level; page 2 the same by page and cursor."""
    notes = []
    for case in cases.values():
        body = case.response.json()
        items = [body] if "modelVersions" in body else body.get("items", [])
        if "/api/v1/images" in case.path:
            for image in items:
                assert case.keyed or image["browsingLevel"] == NsfwLevel.PG, image["id"]
            continue
        allowed = ALL_LEVELS if case.keyed and "nsfw=true" in case.path else NsfwLevel.PG
        for item in items:
            assert item["id"] in visible, f"{case.label}: hidden model {item['id']} listed"
            assert item["nsfwLevel"] & ~allowed == 0, f"{case.label}: model {item['id']} level"
            assert item["modelVersions"], f"{case.label}: model {item['id']} without versions"
            for version in item["modelVersions"]:
                assert version["status"] == "Published", f"{case.label}: version {version['id']}"
                for image in version["images"]:
                    assert image["nsfwLevel"] & ~allowed == 0, f"{case.label}: image level"
    by_page = [i["id"] for i in cases["page2"].response.json()["items"]]
    by_cursor = [i["id"] for i in cases["cursor2"].response.json()["items"]]
    assert by_page == by_cursor, "page 2 differs between page= and cursor="
    notes.append(f"page 2 by page and by cursor: the same {len(by_page)} models")
    total = cases["default"].response.json()["metadata"]["totalItems"]
    pg_visible = sum(1 for level in visible.values() if level & ~NsfwLevel.PG == 0)
    assert total == pg_visible, f"totalItems {total} != {pg_visible} visible PG models"
    notes.append(f"totalItems {total} = visible PG models counted with plain SQL")
    assert reader.browsing_level == ALL_LEVELS
    return notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=30, help="timed calls of each request")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--parts", type=int, default=10, help="instrumented calls per request")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--query", default="anime", help="a common word for query=")
    parser.add_argument("--rare-query", default="castle", help="a rarer word for query=")
    parser.add_argument("--plans", action="store_true", help="print every query plan")
    parser.add_argument("--profile", action="store_true", help="cProfile the main request")
    parser.add_argument(
        "--what-if", action="store_true", help="the main queries rewritten (see what_if)"
    )
    args = parser.parse_args()

    setup_test_environment()  # the test client's host, "testserver", is allowed
    call_command("migrate", verbosity=0)
    print(f"database {DB_NAME}, PostgreSQL {connection.pg_version}")
    mark = current_seed()
    if args.reseed or not mark.startswith(seed_marker(args.models, args.seed) + " "):
        print(f"seeding {args.models} models ...", flush=True)
        took = seed(args.models, args.seed)
        print(f"seeded in {took:.1f} s (with VACUUM ANALYZE)")
    else:
        print(f"reusing the seed: {mark}")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    summary = database_summary()
    print(", ".join(f"{label} {value}" for label, value in summary.items()))

    reader = User.objects.get(username="bench-reader")
    ApiKey.objects.filter(user=reader).delete()
    _, raw_key = api_key_create(user=reader, name="bench", scopes=["read"])
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}
    client = Client()
    with connection.cursor() as cursor:
        cursor.execute(VISIBLE_SQL)
        visible = dict(cursor.fetchall())

    models = "/api/v1/models"
    first = client.get(url(models, limit=100)).json()
    next_cursor = first["metadata"]["nextCursor"]
    detail_id = max(
        first["items"][:20], key=lambda m: (len(m["modelVersions"]), m["stats"]["downloadCount"])
    )["id"]
    cases = {
        "default": Case("models limit=100 (Highest Rated, page 1)", url(models, limit=100)),
        "one": Case("models limit=1", url(models, limit=1)),
        "newest": Case("models limit=100 sort=Newest", url(models, limit=100, sort="Newest")),
        "lora": Case("models limit=100 types=LORA", url(models, limit=100, types="LORA")),
        "query": Case(
            f"models limit=100 query={args.query}", url(models, limit=100, query=args.query)
        ),
        "rare": Case(
            f"models limit=100 query={args.rare_query}",
            url(models, limit=100, query=args.rare_query),
        ),
        "nsfw": Case(
            "models limit=100 nsfw=true, key (all levels)",
            url(models, limit=100, nsfw="true"),
            keyed=True,
        ),
        "page2": Case("models limit=100 page=2", url(models, limit=100, page=2)),
        "cursor2": Case(
            "models limit=100 cursor=(page 2)", url(models, limit=100, cursor=next_cursor)
        ),
        "images": Case("images limit=100", url("/api/v1/images", limit=100)),
        "detail": Case(f"models/{detail_id}", f"{models}/{detail_id}"),
    }

    for case in cases.values():
        for _ in range(args.warmup):
            get(client, case, headers)
    load_before = os.getloadavg()[0]
    for _ in range(args.runs):
        for case in cases.values():
            started = time.perf_counter()
            get(client, case, headers)
            case.times.append(time.perf_counter() - started)
    load_after = os.getloadavg()[0]
    for case in cases.values():
        with CaptureQueriesContext(connection) as captured:
            case.response = get(client, case, headers)
        case.queries = list(captured.captured_queries)
        measure_parts(client, case, headers, args.parts)
        explain(case)

    notes = check_answers(cases, visible, reader)

    print(
        f"\n{args.runs} timed calls each (round-robin, after {args.warmup} warm-up calls); "
        f"1-minute load average {load_before:.2f} before, {load_after:.2f} after "
        f"({os.cpu_count()} CPUs)\n"
    )
    print("| request | ms median | ms p95 | queries | bytes | items |")
    print("|---|---|---|---|---|---|")
    for case in cases.values():
        body = case.response.json()
        items = len(body.get("items", [])) if "items" in body else 1
        writes = sum(1 for q in case.queries if not q["sql"].lstrip().startswith("SELECT"))
        count = f"{len(case.queries)}" + (f" ({writes} write)" if writes else "")
        print(
            f"| {case.label} | {case.median:.1f} | {case.p95:.1f} | {count} "
            f"| {len(case.response.content)} | {items} |"
        )

    one, hundred = cases["one"], cases["default"]
    print(
        f"\nlimit=1 vs limit=100: {len(one.queries)} vs {len(hundred.queries)} queries"
        f" ({'the same' if len(one.queries) == len(hundred.queries) else 'DIFFERENT'}),"
        f" median {one.median:.1f} vs {hundred.median:.1f} ms,"
        f" ratio {hundred.median / one.median:.1f}"
    )
    assert len(one.queries) == len(hundred.queries), "the query count grows with the limit"
    for note in notes:
        print(note)
    print(f"matches: query={args.query} {search_matches(args.query)}, "
          f"query={args.rare_query} {search_matches(args.rare_query)}")  # fmt: skip

    print(f"\nWhere the time goes: medians of {args.parts} instrumented calls, ms")
    print("(fetch = the queryset with its prefetches as objects, SQL inside it and outside;")
    print(" shapes = the JSON dicts, markdown inside them; json = DRF's renderer;")
    print(" other = request - fetch - shapes - json: middleware, auth, throttle, parsing)\n")
    print("| request | request | fetch | SQL execute | shapes | markdown (calls) | json | other |")
    print("|---|---|---|---|---|---|---|---|")
    for case in cases.values():
        p = case.parts
        calls = int(statistics.median(p["markdown calls"]))
        print(
            f"| {case.label} | {ms(p['request'])} | {ms(p['fetch'])} | {ms(p['sql'])} "
            f"| {ms(p['shapes'])} | {ms(p['markdown'])} ({calls}) | {ms(p['json'])} "
            f"| {ms(p['other'])} |"
        )

    print("\nEXPLAIN (ANALYZE, BUFFERS) of every query, run alone: server ms per request\n")
    print("| request | queries: execution ms (planning ms) | sum | request median |")
    print("|---|---|---|---|")
    for case in cases.values():
        listed = "; ".join(f"{short(sql)} {e:.2f} ({p:.2f})" for e, p, sql, _ in case.explain)
        total = sum(e + p for e, p, _, _ in case.explain)
        print(f"| {case.label} | {listed} | {total:.1f} | {case.median:.1f} |")

    main_sql = max(hundred.explain, key=lambda row: row[0])
    print(
        f"\nslowest query of '{hundred.label}', alone through connection.cursor() "
        f"(execute + fetchall, median of 10): {time_sql_alone(main_sql[2], 10):.2f} ms"
    )
    slowest_case = max(cases.values(), key=lambda c: c.median)
    shown = [(hundred, main_sql)]
    if slowest_case is not hundred:
        shown.append((slowest_case, max(slowest_case.explain, key=lambda row: row[0])))
    for case, (execution, _, sql, plan) in shown:
        print(f"\n--- {case.label}: its slowest query ({execution:.2f} ms)\n{sql}\n\n{plan}")
    if args.plans:
        for case in cases.values():
            for execution, _, sql, plan in case.explain:
                print(f"\n--- {case.label} ({execution:.2f} ms)\n{sql}\n\n{plan}")

    if args.what_if:
        what_if(cases)
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(10):
            get(client, hundred, headers)
        profile.disable()
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).strip_dirs()
        stats.sort_stats("cumulative").print_stats(35)
        stats.sort_stats("tottime").print_stats(25)
        print(f"\ncProfile of 10 calls of '{hundred.label}'\n{out.getvalue()}")


NSFW_BITAND = re.compile(r'\("models_hub_model"\."nsfw_level" & (\d+)\) = 0')
VISIBLE_VERSION_EXISTS = re.compile(
    r'EXISTS\(SELECT 1 AS "a" FROM "models_hub_modelversion" U0 INNER JOIN .*? LIMIT 1\)'
)
PLAIN_EXISTS = (
    'EXISTS(SELECT 1 FROM "models_hub_modelversion" U0 WHERE U0."model_id" = '
    '"models_hub_model"."id" AND U0."status" = \'published\')'
)
SEARCH_VECTOR = (
    "to_tsvector('simple'::regconfig, COALESCE(\"models_hub_model\".\"search_document\", ''))"
)


def nsfw_in(match: re.Match) -> str:
    """`nsfw_level & outside = 0` as the list of levels it allows, which the planner can
    estimate from the column's statistics (it guesses 0.5% of rows for the bitwise form)."""
    outside = int(match.group(1))
    allowed = ", ".join(str(v) for v in range(64) if v & outside == 0)
    return f'"models_hub_model"."nsfw_level" IN ({allowed})'


def median_execution(sql: str, runs: int = 5, plans: list | None = None, label: str = "") -> float:
    """The median EXPLAIN ANALYZE execution time; the last plan goes to `plans` if given."""
    times = []
    with connection.cursor() as cursor:
        for _ in range(runs):
            cursor.execute(f"EXPLAIN (ANALYZE) {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            times.append(float(re.search(r"Execution Time: ([\d.]+)", plan).group(1)))
    if plans is not None:
        plans.append((label, plan))
    return statistics.median(times)


def what_if(cases: dict[str, Case]) -> None:
    """The slow queries as the application sends them, then rewritten: (a) the NSFW filter as
    `nsfw_level IN (...)`; (b) also the version EXISTS without its joins back to the model and
    its owner (the outer query already requires both); (c) for the ranked search, also a
    stored tsvector column with its own GIN index, added inside a transaction that is rolled
    back. Medians of 5 EXPLAIN ANALYZE execution times, ms."""

    def first(case: Case, prefix: str) -> str:
        return next(q["sql"] for q in case.queries if q["sql"].startswith(prefix))

    page = 'SELECT "models_hub_model"."id"'
    picked = [
        ("COUNT, " + cases["default"].label, first(cases["default"], "SELECT COUNT(*)")),
        ("page, " + cases["default"].label, first(cases["default"], page)),
        ("page, " + cases["nsfw"].label, first(cases["nsfw"], page)),
        ("page, " + cases["cursor2"].label, first(cases["cursor2"], page)),
        ("page, " + cases["query"].label, first(cases["query"], page)),
    ]
    print("\nWhat if: medians of 5 EXPLAIN ANALYZE execution times, ms\n")
    print(
        "| query | as sent | (a) nsfw_level IN | (b) (a) + plain EXISTS | (c) (b) + stored vector |"
    )
    print("|---|---|---|---|---|")
    plans: list[tuple[str, str]] = []
    for number, (label, sql) in enumerate(picked):
        rewritten = NSFW_BITAND.sub(nsfw_in, sql)
        plain = VISIBLE_VERSION_EXISTS.sub(PLAIN_EXISTS, rewritten)
        if rewritten == sql or plain == rewritten:
            print(f"| {label} | the SQL changed: patterns not found, skipped | | | |")
            continue
        shown = plans if number == 1 else None  # the page of the main request, with (a)
        row = [
            median_execution(sql),
            median_execution(rewritten, plans=shown, label=f"{label}, (a)"),
            median_execution(plain),
        ]
        stored = ""
        if SEARCH_VECTOR in plain:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(
                        "ALTER TABLE models_hub_model ADD COLUMN bench_vector tsvector GENERATED "
                        "ALWAYS AS (to_tsvector('simple', COALESCE(search_document, ''))) STORED"
                    )
                    cursor.execute("CREATE INDEX ON models_hub_model USING gin (bench_vector)")
                    cursor.execute("ANALYZE models_hub_model")
                vector_sql = plain.replace(SEARCH_VECTOR, '"models_hub_model"."bench_vector"')
                took = median_execution(vector_sql, plans=plans, label=f"{label}, (c)")
                stored = f"{took:.1f}"
                transaction.set_rollback(True)
        print(f"| {label} | " + " | ".join(f"{t:.1f}" for t in row) + f" | {stored} |")
    for label, plan in plans:
        print(f"\n--- what if: {label}\n{plan}")


def search_matches(word: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM ({VISIBLE_SQL}) v JOIN models_hub_model m ON m.id = v.id "
            "WHERE v.nsfw_level & 62 = 0 AND to_tsvector('simple', COALESCE(m.search_document, "
            "'')) @@ websearch_to_tsquery('simple', %s)",
            [word],
        )
        return cursor.fetchone()[0]


if __name__ == "__main__":
    main()
