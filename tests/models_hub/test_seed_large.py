"""manage.py seed_large at a thousandth of its size: the rows it writes are what the services
would have left behind, so pages, the API and lookups by hash work on them."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import Count, F, IntegerField, Max, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from community.models import Comment, Favorite, Follow, Reaction, Review, User
from models_hub.choices import NsfwLevel, Status
from models_hub.models import DownloadDay, GalleryImage, Model, ModelFile, ModelVersion
from models_hub.services import model_refresh_derived, model_refresh_search_document
from moderation.models import CheckRun
from tests.conftest import needs_postgres
from tests.factories import published_model

pytestmark = pytest.mark.django_db

# --scale 0.001 of the defaults (50,000 users, 100,000 models, 3 versions each, 1,000,000
# images).
USERS, MODELS, VERSIONS, IMAGES = 50, 100, 300, 1000


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_large", "--scale", "0.001", "--seed", "7", *args, stdout=out)
    return out.getvalue()


def _sum(model, outer: str, field: str, **filters):
    rows = (
        model.objects.filter(**{outer: OuterRef("pk")}, **filters)
        .order_by()
        .values(outer)
        .annotate(total=Sum(field))
        .values("total")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def _tally(model, outer: str, **filters):
    rows = (
        model.objects.filter(**{outer: OuterRef("pk")}, **filters)
        .order_by()
        .values(outer)
        .annotate(total=Count("pk"))
        .values("total")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def _public_model() -> Model:
    """The most downloaded model an anonymous visitor may see."""
    return (
        Model.objects.filter(
            status=Status.PUBLISHED, owner__is_active=True, nsfw_level=NsfwLevel.PG
        )
        .order_by("-download_count", "-id")
        .first()
    )


def test_seed_large_writes_the_sizes_asked_for_and_times_each_table():
    out = seed()

    assert User.objects.count() == USERS
    assert Model.objects.count() == MODELS
    assert ModelVersion.objects.count() == VERSIONS
    assert ModelFile.objects.count() == VERSIONS
    assert GalleryImage.objects.count() == IMAGES
    assert CheckRun.objects.count() == 2 * VERSIONS + 2 * IMAGES
    for label in ("users", "models", "versions", "files", "images", "reviews", "total"):
        assert f"\n{label} " in out
    # Every model type, most models published, a few in every other state.
    assert Model.objects.values("type").distinct().count() == 16
    statuses = dict(Model.objects.values_list("status").annotate(n=Count("pk")))
    assert statuses[Status.PUBLISHED] > MODELS * 0.7
    assert Model.objects.filter(status=Status.PUBLISHED, cover_image__isnull=True).count() == 0
    # Popularity is skewed: the top model has a large share of all downloads.
    downloads = sorted(Model.objects.values_list("download_count", flat=True), reverse=True)
    assert downloads[0] > 10 * downloads[len(downloads) // 2]
    # The id sequences were moved past the explicit ids: the next row does not collide.
    seeded_max = Model.objects.aggregate(n=Max("pk"))["n"]
    assert published_model().pk > seeded_max


def test_seeded_counters_match_the_rows_they_count():
    seed()

    models = Model.objects.annotate(
        n_versions_downloads=_sum(ModelVersion, "model", "download_count"),
        n_versions_up=_sum(ModelVersion, "model", "thumbs_up_count"),
        n_versions_down=_sum(ModelVersion, "model", "thumbs_down_count"),
        n_favorites=_tally(Favorite, "model"),
        n_visible_comments=_tally(Comment, "model", hidden=False, deleted=False),
    )
    assert not models.exclude(download_count=F("n_versions_downloads")).exists()
    assert not models.exclude(thumbs_up_count=F("n_versions_up")).exists()
    assert not models.exclude(thumbs_down_count=F("n_versions_down")).exists()
    assert not models.exclude(like_count=F("n_favorites")).exists()
    assert not models.exclude(comment_count=F("n_visible_comments")).exists()
    assert Model.objects.aggregate(n=Sum("like_count"))["n"] == Favorite.objects.count() > 0

    visible_reviews = {"hidden": False}
    versions = ModelVersion.objects.annotate(
        n_files_downloads=_sum(ModelFile, "version", "download_count"),
        n_up=_tally(Review, "version", recommended=True, **visible_reviews),
        n_down=_tally(Review, "version", recommended=False, **visible_reviews),
        n_days=_sum(DownloadDay, "version", "count"),
    )
    assert not versions.exclude(download_count=F("n_files_downloads")).exists()
    assert not versions.exclude(thumbs_up_count=F("n_up"), thumbs_down_count=F("n_down")).exists()
    assert not versions.filter(n_days__gt=F("download_count")).exists()
    assert DownloadDay.objects.exists()

    images = GalleryImage.objects.annotate(
        **{
            f"n_{kind}s": _tally(Reaction, "image", kind=kind)
            for kind in ("like", "heart", "laugh", "cry")
        },
        n_comments=_tally(Comment, "image", hidden=False, deleted=False),
    )
    assert not images.exclude(
        like_count=F("n_likes"),
        heart_count=F("n_hearts"),
        laugh_count=F("n_laughs"),
        cry_count=F("n_crys"),
        comment_count=F("n_comments"),
    ).exists()
    assert Reaction.objects.exists()
    users = User.objects.annotate(n_followers=_tally(Follow, "creator"))
    assert not users.exclude(follower_count=F("n_followers")).exists()
    # Nobody reviews their own model or follows themselves.
    assert not Review.objects.filter(author=F("version__model__owner")).exists()
    assert not Follow.objects.filter(follower=F("creator")).exists()


def test_seeded_derived_fields_are_what_the_services_compute():
    seed()

    with transaction.atomic():
        for model in Model.objects.exclude(status=Status.DRAFT).select_related("owner"):
            seeded = (model.search_document, model.nsfw_level, model.cover_image_id)
            model_refresh_search_document(model=model)
            model_refresh_derived(model=model)
            assert (model.search_document, model.nsfw_level, model.cover_image_id) == seeded
        transaction.set_rollback(True)
    # A version's level is the OR of its images' (hidden ones left out).
    for version in ModelVersion.objects.prefetch_related("images"):
        levels = [i.nsfw_level for i in version.images.all()]
        assert version.nsfw_level == (NsfwLevel.combine(levels) or version.declared_nsfw_level), (
            version.pk
        )
    # Published versions went through the checks: files hashed and scanned, images done.
    assert not ModelFile.objects.exclude(hash_status="done").exists()
    assert not ModelFile.objects.exclude(scan_result="Success").exists()
    assert not ModelFile.objects.filter(~Q(format="Other"), is_primary=False).exists()
    assert not GalleryImage.objects.filter(Q(blurhash="") | Q(thumbnail="")).exists()


def test_seeded_published_model_is_on_its_page_and_in_the_api(client):
    seed()
    model = _public_model()

    page = client.get(model.get_absolute_url())
    assert page.status_code == 200
    assert model.name in page.content.decode()
    browse = client.get("/?sort=downloads")
    assert browse.status_code == 200
    assert model.get_absolute_url() in browse.content.decode()

    listed = client.get("/api/v1/models", {"sort": "Most Downloaded", "limit": 10})
    assert listed.status_code == 200
    assert listed.json()["items"][0]["id"] == model.pk
    assert listed.json()["items"][0]["name"] == model.name

    # The cover's thumbnail is a real file the media view serves.
    cover = client.get(model.cover_image.thumbnail.url)
    assert cover.status_code == 200
    assert cover["Content-Type"] == "image/webp"


def test_by_hash_api_finds_a_seeded_file_by_each_of_its_hashes(client):
    seed()
    model = _public_model()
    file = ModelFile.objects.filter(version__model=model, version__status=Status.PUBLISHED).first()

    for digest in (file.sha256, file.sha256.upper(), file.autov2, file.blake3, file.autov3):
        if not digest:
            continue  # AutoV3 is for safetensors only
        response = client.get(f"/api/v1/model-versions/by-hash/{digest}")
        assert response.status_code == 200, digest
        assert response.json()["id"] == file.version_id
    assert len(file.sha256) == len(file.blake3) == 64
    assert file.autov2 == file.sha256[:10]


def test_seed_large_refuses_a_database_with_models_unless_appending(client):
    existing = published_model()

    with pytest.raises(CommandError, match="already has 1 models.*--append"):
        seed()
    assert Model.objects.count() == 1

    seed("--append")
    assert Model.objects.count() == 1 + MODELS
    assert User.objects.count() == 1 + USERS
    assert Model.objects.filter(pk=existing.pk, name=existing.name).exists()
    assert client.get(existing.get_absolute_url()).status_code == 200


def test_seed_large_refuses_nonsense_sizes():
    with pytest.raises(CommandError, match="versions-per-model"):
        seed("--versions-per-model", "0.5")
    assert not Model.objects.exists()


@needs_postgres
def test_seed_large_on_postgres_copies_and_full_text_search_finds_seeded_models(client):
    out = seed()
    model = _public_model()

    assert "commit (foreign-key checks)" in out
    word = model.name.split()[0]
    found = client.get("/", {"q": word})
    assert found.status_code == 200
    assert model.get_absolute_url() in found.content.decode()
    # The search index of migration 0002 covers the seeded rows.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM models_hub_model WHERE to_tsvector('simple', "
            "COALESCE(search_document, '')) @@ plainto_tsquery('simple', %s)",
            [word],
        )
        assert cursor.fetchone()[0] >= 1
