"""Create the admin account and a dozen demo models (idempotent: runs once per database)."""

from __future__ import annotations

import io
import logging
import os
import random
import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.utils import timezone

from community import services as community_services
from config.celery import app as celery_app
from models_hub import services
from models_hub.choices import CommercialUse, ModelType, NsfwLevel
from models_hub.demo import make_image, make_safetensors
from models_hub.formats.images import process_upload
from models_hub.models import BaseModel, DownloadDay, License, Model, ModelVersion

# name, type, base model, license, commercial use, tags, trigger words, NSFW level
DEMO_MODELS = [
    (
        "Aurora Landscapes",
        ModelType.LORA,
        "sdxl-1-0",
        "creativeml-openrail-plus-plus-m",
        CommercialUse.IMAGE,
        ["landscape", "scenery"],
        ["aurora sky"],
        NsfwLevel.PG,
    ),
    (
        "Inkwash Style",
        ModelType.LORA,
        "sd-1-5",
        "creativeml-openrail-m",
        CommercialUse.SELL,
        ["style", "ink"],
        ["inkwash"],
        NsfwLevel.PG,
    ),
    (
        "Photon Realism",
        ModelType.CHECKPOINT,
        "sd-1-5",
        "creativeml-openrail-m",
        CommercialUse.RENT,
        ["photorealistic", "portrait"],
        [],
        NsfwLevel.PG,
    ),
    (
        "Pastel Anime XL",
        ModelType.CHECKPOINT,
        "illustrious",
        "creativeml-openrail-plus-plus-m",
        CommercialUse.IMAGE,
        ["anime", "pastel"],
        [],
        NsfwLevel.PG13,
    ),
    (
        "Clean Detail VAE",
        ModelType.VAE,
        "sdxl-1-0",
        # SDXL's use restrictions carry to every derivative, so the VAE keeps its license.
        "creativeml-openrail-plus-plus-m",
        CommercialUse.SELL,
        ["vae", "utility"],
        [],
        NsfwLevel.PG,
    ),
    (
        "Bad Hands Embedding",
        ModelType.TEXTUAL_INVERSION,
        "sd-1-5",
        "creativeml-openrail-m",
        CommercialUse.SELL,
        ["negative", "hands"],
        ["bad-hands-5"],
        NsfwLevel.PG,
    ),
    (
        "Flux Watercolour",
        ModelType.LORA,
        "flux-1-dev",
        "flux-1-dev-non-commercial",
        CommercialUse.NONE,
        ["watercolor", "style"],
        ["wtrclr"],
        NsfwLevel.PG,
    ),
    (
        "Schnell Pixel Art",
        ModelType.LORA,
        "flux-1-schnell",
        "apache-2.0",
        CommercialUse.SELL,
        ["pixel art", "game"],
        ["pixelart"],
        NsfwLevel.PG,
    ),
    (
        "Cyberpunk Streets",
        ModelType.LORA,
        "pony",
        "creativeml-openrail-plus-plus-m",
        CommercialUse.NONE,
        ["cyberpunk", "city"],
        ["neon street"],
        NsfwLevel.PG13,
    ),
    (
        "Tile Upscaler 4x",
        ModelType.UPSCALER,
        "other",
        "cc-by-4.0",
        CommercialUse.SELL,
        ["upscaler", "utility"],
        [],
        NsfwLevel.PG,
    ),
    (
        "Lineart ControlNet",
        ModelType.CONTROLNET,
        "sd-3-5",
        "stabilityai-community",
        CommercialUse.IMAGE,
        ["controlnet", "lineart"],
        [],
        NsfwLevel.PG,
    ),
    (
        "Retro Poster Mix",
        ModelType.CHECKPOINT,
        "sd-1-5",
        "creativeml-openrail-m",
        CommercialUse.IMAGE,
        ["retro", "poster", "merge"],
        [],
        NsfwLevel.PG,
    ),
]
CREATORS = ["mika", "ravenstudio", "pixelwright"]


class Command(BaseCommand):
    help = "Create the admin account and demo content the first time it runs."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-demo", action="store_true", help="Only the admin account.")

    def handle(self, *args, **options) -> None:
        self._ensure_admin()
        if options["no_demo"]:
            return
        if Model.objects.exists():
            self.stdout.write("Demo content: the catalogue already has models, nothing added.")
            return
        # Process right here, in this command: no worker needs to be running yet.
        celery_app.conf.task_always_eager = True
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        self._create_demo()

    def _ensure_admin(self) -> None:
        User = get_user_model()
        credentials = Path(settings.VAR_DIR) / "admin-credentials.txt"
        if not User.objects.filter(username="admin").exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "admin@example.invalid", password)
            credentials.parent.mkdir(parents=True, exist_ok=True)
            credentials.write_text(f"username: admin\npassword: {password}\n")
            os.chmod(credentials, 0o600)
        if credentials.exists():
            self.stdout.write(self.style.SUCCESS("Admin account (from " + str(credentials) + "):"))
            self.stdout.write(credentials.read_text())
        else:
            self.stdout.write("An admin account exists; its password is not stored here.")

    def _create_demo(self) -> None:
        User = get_user_model()
        creators = [
            User.objects.get_or_create(
                username=name, defaults={"email": f"{name}@example.invalid"}
            )[0]
            for name in CREATORS
        ]
        for creator in creators:
            creator.set_unusable_password()
            creator.browsing_level = NsfwLevel.PG | NsfwLevel.PG13
            creator.save()
        rng = random.Random(1234)
        created = []
        for index, row in enumerate(DEMO_MODELS):
            name, mtype, base, license_slug, commercial, tags, words, level = row
            license = License.objects.get(slug=license_slug)
            images = [
                process_upload(
                    io.BytesIO(
                        make_image(seed=index * 10 + n, prompt=f"{name.lower()}, sample {n + 1}")
                    ),
                    max_pixels=settings.HUB_MAX_IMAGE_PIXELS,
                )
                for n in range(3)
            ]
            parents = []
            if name == "Retro Poster Mix":
                parents = [created[1].versions.first(), created[2].versions.first()]
            version = services.model_upload(
                owner=creators[index % len(creators)],
                name=name,
                type=mtype,
                description=(
                    f"## {name}\n\nA demo {mtype} made for trying the site. "
                    "Every image here was drawn by the seed command.\n\n"
                    "* Works best at 768-1024 px\n"
                    + ("* Use the trigger words shown beside the download button." if words else "")
                ),
                tags=tags,
                license=license,
                license_other_url="",
                license_other_text="",
                allow_commercial_use=commercial,
                allow_no_credit=not license.credit_required,
                allow_derivatives=license.derivatives_allowed,
                allow_different_license=False,
                version_name="v1.0",
                base_model=BaseModel.objects.get(slug=base),
                trained_words=words,
                version_description="First release.",
                nsfw_level=level,
                parent_versions=parents,
                external_parents=[],
                model_files=[
                    SimpleUploadedFile(
                        f"{name.lower().replace(' ', '_')}_v1.safetensors",
                        make_safetensors(seed=index),
                    )
                ],
                images=images,
                publish=True,
            )
            downloads = rng.randint(10, 5000)
            Model.objects.filter(pk=version.model_id).update(download_count=downloads)
            ModelVersion.objects.filter(pk=version.pk).update(download_count=downloads)
            _seed_download_days(version.pk, downloads, rng)
            created.append(version.model)
        _seed_community(creators, created, rng)
        self.stdout.write(self.style.SUCCESS(f"Demo content: {len(created)} models created."))


def _seed_download_days(version_id: int, downloads: int, rng: random.Random) -> None:
    """Part of the downloads spread over the last 30 days, so the charts have a shape."""
    today = timezone.localdate()
    recent = downloads // 3
    weights = [rng.random() * (1 + day / 10) for day in range(30)]
    scale = recent / sum(weights)
    DownloadDay.objects.bulk_create(
        DownloadDay(
            version_id=version_id, day=today - timedelta(days=29 - day), count=int(w * scale)
        )
        for day, w in enumerate(weights)
    )


def _seed_community(creators: list, models: list[Model], rng: random.Random) -> None:
    """Follows, reviews, comments, reactions, favourites and a collection, made through the
    services so every counter is what a recount would give."""
    reviews = [
        (True, "Clean results at the recommended weight; the trigger words work as described."),
        (True, "My go-to for this style. Sample prompts in the gallery reproduce well."),
        (False, "Overcooks faces above 0.8 weight; fine lower."),
    ]
    for index, person in enumerate(creators):
        for other in creators:
            if other != person and rng.random() < 0.7:
                community_services.follow_set(follower=person, creator=other, on=True)
        for model in models:
            if model.owner_id == person.pk or rng.random() < 0.4:
                continue
            version = model.versions.first()
            recommended, text = reviews[(index + model.pk) % len(reviews)]
            community_services.review_save(
                author=person, version=version, recommended=recommended, text=text
            )
            community_services.favorite_set(user=person, model=model, on=True)
            image = version.images.first()
            if image is not None:
                community_services.reaction_set(user=person, image=image, kind="heart", on=True)
    first = models[0]
    question = community_services.comment_create(
        author=creators[1], model=first, body="Which sampler did you use for the cover image?"
    )
    community_services.comment_create(
        author=first.owner,
        model=first,
        parent=question,
        body="DPM++ 2M Karras, 28 steps: the image page has the full parameters.",
    )
    collection = community_services.collection_create(
        owner=creators[0], name="Favourite styles", description="Styles I keep coming back to."
    )
    for model in models[1:4]:
        community_services.collection_item_set(collection=collection, model=model, on=True)
