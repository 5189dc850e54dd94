"""Fill an empty database with a large, realistic catalogue for benchmarks.

    manage.py seed_large                         # 50,000 users, 100,000 models, 300,000
                                                 # versions and files, 1,000,000 images
    manage.py seed_large --scale 0.01 --seed 7   # a hundredth of that, reproducibly

Fast on PostgreSQL (COPY); works, slowly, on SQLite. See models_hub/seed_large/.
"""

from __future__ import annotations

import secrets

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from models_hub.seed_large import SeedRefused, Sizes, format_seconds, seed_large


class Command(BaseCommand):
    help = (
        "Seed a large, realistic catalogue (users, models, versions, files, images, reviews, "
        "favourites, comments, reactions, follows, checks) and print how long each table took."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--users", type=int, default=50_000)
        parser.add_argument("--models", type=int, default=100_000)
        parser.add_argument(
            "--versions-per-model", type=float, default=3, help="On average, 1 to 5 each."
        )
        parser.add_argument("--images", type=int, default=1_000_000, help="Gallery images.")
        parser.add_argument(
            "--scale", type=float, default=1.0, help="Multiply every size (0.001 for tests)."
        )
        parser.add_argument(
            "--seed", type=int, default=None, help="Seed of the random generator (reproducible)."
        )
        parser.add_argument(
            "--append",
            "--force",
            action="store_true",
            dest="append",
            help="Add to a database that already has models (refused otherwise).",
        )
        parser.add_argument(
            "--no-check-runs",
            action="store_false",
            dest="check_runs",
            help="Leave out the moderation CheckRun rows (two per version, two per image).",
        )
        parser.add_argument(
            "--no-vacuum", action="store_false", dest="vacuum", help="Skip VACUUM ANALYZE."
        )

    def handle(self, *args, **options) -> None:
        try:
            sizes = Sizes.scaled(
                users=options["users"],
                models=options["models"],
                versions_per_model=options["versions_per_model"],
                images=options["images"],
                scale=options["scale"],
            )
        except SeedRefused as exc:
            raise CommandError(str(exc)) from None
        seed = options["seed"] if options["seed"] is not None else secrets.randbelow(1 << 31)
        self.stdout.write(
            f"Seeding {sizes.users:,} users, {sizes.models:,} models, {sizes.versions:,} "
            f"versions and files, {sizes.images:,} images (--seed {seed}) on {connection.vendor}"
        )
        if connection.vendor != "postgresql":
            self.stdout.write("Not PostgreSQL: batched INSERTs instead of COPY (slow at scale).")
        try:
            timings = seed_large(
                sizes=sizes,
                seed=seed,
                append=options["append"],
                check_runs=options["check_runs"],
                vacuum=options["vacuum"],
                out=self.stdout.write,
            )
        except SeedRefused as exc:
            raise CommandError(str(exc)) from None
        total = sum(t.seconds for t in timings)
        self.stdout.write(self.style.SUCCESS(f"{'total':<30}{'':16} in {format_seconds(total)}"))
