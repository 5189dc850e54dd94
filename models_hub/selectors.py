"""Reads that need more than a queryset: the browse listing and the model page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVectorField
from django.db import connection
from django.db.models import Count, Exists, Expression, OuterRef, Prefetch, Q, QuerySet
from django.db.models.expressions import Col
from django.http import Http404
from django.utils.translation import gettext as _

from models_hub.choices import CommercialUse, ModelType, NsfwLevel, Status
from models_hub.list_cache import kept
from models_hub.models import (
    GalleryImage,
    Model,
    ModelFile,
    ModelVersion,
    Tag,
    VersionParent,
    downloads_band,
)
from models_hub.params import parse_id
from models_hub.querysets import listing_levels
from moderation.selectors import VersionChecks, version_checks, version_credits

if TYPE_CHECKING:
    from collections.abc import Sequence

    from django.contrib.auth.models import AnonymousUser

    from community.models import User

T = TypeVar("T")

SORTS = {
    "newest": ("-published_at", "-id"),
    "downloads": ("-download_count", "-id"),
    "likes": ("-like_count", "-id"),
}
SEARCH_CONFIG = "simple"
# A model page shows a version's gallery a page at a time (`?images=N`): the most downloaded
# seeded model had 128 images, and rendering 100 of them was a third of its page
# (docs/PERFORMANCE.md).
IMAGES_PER_PAGE = 24


@dataclass
class BrowseFilters:
    query: str = ""
    types: list[str] = field(default_factory=list)
    base_models: list[str] = field(default_factory=list)
    tag: str = ""
    commercial_use: str = ""  # the least a model must allow: Image, Rent or Sell
    no_credit: bool = False
    derivatives: bool = False
    different_license: bool = False
    nsfw_levels: int = 0  # a bitmask; 0 means "whatever the person may see"
    sort: str = "newest"

    @classmethod
    def from_params(cls, params) -> BrowseFilters:
        """Parse query parameters leniently: unknown values are dropped, not errors (and NUL
        characters, which PostgreSQL cannot compare text with, are dropped too)."""

        def text(name: str) -> str:
            return params.get(name, "").replace("\x00", "")

        levels = 0
        for raw in params.getlist("nsfw"):
            value = parse_id(raw)
            if value in NsfwLevel.values:
                levels |= value
        sort = params.get("sort", "")
        query = text("q").strip()[:200]
        bases = [slug.replace("\x00", "") for slug in params.getlist("base")]
        return cls(
            query=query,
            types=[t for t in params.getlist("type") if t in ModelType.values],
            base_models=[text_value[:64] for text_value in bases if text_value][:20],
            tag=text("tag").strip().lower()[:50],
            commercial_use=params.get("commercial", "")
            if params.get("commercial") in CommercialUse.values
            else "",
            no_credit=params.get("no_credit") == "1",
            derivatives=params.get("derivatives") == "1",
            different_license=params.get("different_license") == "1",
            nsfw_levels=levels,
            sort=sort
            if sort in SORTS or (sort == "relevance" and query)
            else ("relevance" if query else "newest"),
        )


class StoredSearchVector(Expression):
    """The model's stored search vector: the `search_vector` column PostgreSQL generates from
    `search_document` (migration 0015). It is not a model field, so that ordinary reads of a
    model do not fetch it; this expression names it in the query being built."""

    output_field = SearchVectorField()

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False,
                           for_save=False):  # fmt: skip
        return Col(query.get_initial_alias(), _SEARCH_VECTOR)


_SEARCH_VECTOR = SearchVectorField()
_SEARCH_VECTOR.set_attributes_from_name("search_vector")
_SEARCH_VECTOR.model = Model


# The order of a ranked search (PostgreSQL): by bands of downloads, the most downloaded
# first (`downloads_band`: 100 to 316 downloads, 317 to 999, 1,000 to 3,162, ...), and by
# relevance within a band. A common word matches tens of thousands of models: ranking them
# all read every one's vector (195 ms for "anime", 30,591 matches), and the most relevant of
# them were models nobody had downloaded, not what a person searching wants first. Walking
# the bands in index order (model_downloads_band) ranks the first few hundred matches and
# stops (docs/PERFORMANCE.md); a rare word's few matches are ranked from the full-text index.
SEARCH_ORDER = ("-downloads_band", "-search_rank", "-id")


def search_models(queryset: QuerySet[Model], text: str) -> QuerySet[Model]:
    """Models matching `text`; on PostgreSQL with what SEARCH_ORDER ranks by (`search_rank`
    from the full-text index, `downloads_band`)."""
    if connection.vendor == "postgresql":
        vector = StoredSearchVector()
        query = SearchQuery(text, config=SEARCH_CONFIG, search_type="websearch")
        return (
            queryset.alias(_vector=vector, downloads_band=downloads_band())
            .filter(_vector=query)
            .annotate(search_rank=SearchRank(vector, query))
        )
    # SQLite: every word must appear somewhere in the document.
    for word in text.split()[:10]:
        queryset = queryset.filter(search_document__icontains=word)
    return queryset


def popular_tags() -> list[Tag]:
    """The 40 tags most public models carry, for browse's tag field (kept a minute: ranking
    every tag link took 137 ms at 100,000 models; docs/PERFORMANCE.md)."""
    return kept(
        "list-popular-tags",
        lambda: list(
            Tag.objects.annotate(
                # Public models only: a banned member's are hidden from everyone
                # (querysets.py), so their tags must not be offered either.
                published=Count(
                    "models",
                    filter=Q(models__status=Status.PUBLISHED, models__owner__is_active=True),
                )
            )
            .filter(published__gt=0)
            .order_by("-published", "name")[:40]
        ),
    )


def listed_models(
    viewer: User | AnonymousUser, levels: int | None = None, *, own_unpublished: bool = True
) -> QuerySet[Model]:
    """Models a list of cards may show `viewer` (profiles, collections, favourites, browse):
    visible to them, published or (with `own_unpublished`) their own, within `levels`
    (default: the ratings their lists fetch), with what a card (models_hub/_card.html) shows:
    owner, cover, and the newest visible version's base model. Staff find hidden content in
    the admin and the moderation queue, not mixed into lists."""
    listed = Q(status=Status.PUBLISHED)
    if viewer.is_authenticated and own_unpublished:
        listed |= Q(owner=viewer)
    return (
        Model.objects.visible_to(viewer)
        .filter(listed)
        .within_levels(listing_levels(viewer) if levels is None else levels)
        .select_related("owner", "cover_image", "license")
        .prefetch_related(
            Prefetch(
                "versions",
                queryset=ModelVersion.objects.visible_to(viewer)
                .select_related("base_model")
                .order_by("-created_at", "-id"),
                to_attr="visible_versions",
            )
        )
    )


def browse_models(user: User, filters: BrowseFilters) -> QuerySet[Model]:
    allowed = listing_levels(user)
    # A member's own unpublished models are listed with the rest, but "or their own" in the
    # filter stops PostgreSQL from using the (status, sort) indexes. It walks the sort's
    # own index instead (model_newest...), passing over everyone's never-published drafts,
    # which sort first: 5 ms of SQL more than a visitor's plan (docs/PERFORMANCE.md). Most
    # members have none, which one indexed lookup tells, and they get the visitor's plan.
    own_unpublished = (
        user.is_authenticated
        and Model.objects.filter(owner=user)
        .exclude(status__in=[Status.PUBLISHED, Status.DELETED])
        .exists()
    )
    models = listed_models(
        user, (filters.nsfw_levels & allowed) or allowed, own_unpublished=own_unpublished
    )
    if filters.types:
        models = models.filter(type__in=filters.types)
    if filters.base_models:
        models = models.filter(
            Exists(
                ModelVersion.objects.visible_to(user).filter(
                    model=OuterRef("pk"), base_model__slug__in=filters.base_models
                )
            )
        )
    if filters.tag:
        models = models.filter(tags__name=filters.tag)
    if filters.commercial_use:
        rank = CommercialUse.rank(filters.commercial_use)
        models = models.filter(
            allow_commercial_use__in=[
                c.value for c in CommercialUse if CommercialUse.rank(c) >= rank
            ]
        )
    if filters.no_credit:
        models = models.filter(allow_no_credit=True)
    if filters.derivatives:
        models = models.filter(allow_derivatives=True)
    if filters.different_license:
        models = models.filter(allow_different_license=True)
    if filters.query:
        models = search_models(models, filters.query)
    if filters.sort == "relevance" and connection.vendor == "postgresql":
        models = models.order_by(*SEARCH_ORDER)
    else:
        models = models.order_by(*SORTS.get(filters.sort, SORTS["newest"]))
    return models


@dataclass
class ModelPage:
    model: Model
    versions: list[ModelVersion]
    version: ModelVersion
    files: list[ModelFile]
    images: list[GalleryImage]  # a page of the version's gallery
    images_page: int
    more_images: bool
    parents: list[VersionParent]
    visible_parent_ids: set[int]
    is_owner: bool
    # The checks with their findings, for the owner and staff; credits are for everyone.
    checks: VersionChecks | None = None
    credits: list[dict] = field(default_factory=list)

    @property
    def permissions(self) -> list[tuple[bool, str]]:
        """The license permissions as statements a person can check, in Civitai's terms."""
        m = self.model
        rank = CommercialUse.rank(m.allow_commercial_use)
        return [
            (m.allow_no_credit, _("Use it without crediting the creator")),
            (
                rank >= CommercialUse.rank(CommercialUse.IMAGE),
                _("Sell images you generate with it"),
            ),
            (
                rank >= CommercialUse.rank(CommercialUse.RENT),
                _("Run it on services that generate images for money"),
            ),
            (rank >= CommercialUse.rank(CommercialUse.SELL), _("Sell this model or merges of it")),
            (m.allow_derivatives, _("Share merges or fine-tunes of it")),
            (m.allow_different_license, _("Give merges different permissions")),
        ]


def page_of(rows: Sequence[T], page: int, per_page: int) -> tuple[list[T], bool]:
    """Page `page` (from 1) of `rows`, a list or a queryset (read once, one row past the
    page), and whether more follow."""
    start = (page - 1) * per_page
    found = list(rows[start : start + per_page + 1])
    return found[:per_page], len(found) > per_page


def model_page(
    user: User, model_id: int, version_id: int | None, *, images_page: int = 1
) -> ModelPage:
    """The model with the version to show (`version_id`, or the newest the user may see),
    and page `images_page` (from 1) of that version's gallery."""
    model = (
        Model.objects.visible_to(user)
        .select_related("owner", "license")
        .prefetch_related("tags")
        .filter(pk=model_id)
        .first()
    )
    if model is None:
        raise Http404("No such model.")
    versions = list(
        ModelVersion.objects.visible_to(user)
        .filter(model=model)
        .select_related("base_model", "base_model__license")
        .order_by("-created_at", "-id")
    )
    if not versions:
        raise Http404("No such model.")
    if version_id is None:
        version = next((v for v in versions if v.status == Status.PUBLISHED), versions[0])
    else:
        version = next((v for v in versions if v.pk == version_id), None)
        if version is None:
            raise Http404("No such version.")
    parents = list(
        VersionParent.objects.filter(version=version)
        .select_related("parent_version__model__license")
        .order_by("id")
    )
    parent_ids = [p.parent_version_id for p in parents if p.parent_version_id]
    visible_parent_ids: set[int] = set()
    if parent_ids:
        visible_parent_ids = set(
            ModelVersion.objects.visible_to(user)
            .filter(pk__in=parent_ids)
            .values_list("pk", flat=True)
        )
    images, more_images = page_of(
        GalleryImage.objects.filter(version=version)
        .within_levels(listing_levels(user))
        .order_by("position", "id"),
        images_page,
        IMAGES_PER_PAGE,
    )
    is_owner = user.is_authenticated and model.owner_id == user.pk
    # The checks' findings are for the owner and staff; everyone else needs only the credits.
    checks = version_checks(version) if is_owner or user.is_staff else None
    return ModelPage(
        checks=checks,
        credits=checks.credits if checks else version_credits(version),
        model=model,
        versions=versions,
        version=version,
        files=list(ModelFile.objects.filter(version=version).order_by("-is_primary", "id")),
        images=images,
        images_page=images_page,
        more_images=more_images,
        parents=parents,
        visible_parent_ids=visible_parent_ids,
        is_owner=is_owner,
    )


# Which hash columns a digest can be, by its length (Civitai's definitions): asking only
# those keeps each lookup on an index.
_HASH_COLUMNS_BY_LENGTH = {
    8: ("autov1", "crc32"),
    10: ("autov2",),
    64: ("sha256", "autov3", "blake3"),
}


def versions_by_file_hashes(digests: list[str], user) -> QuerySet[ModelVersion]:
    """The versions `user` may see that hold a file with any of these hashes (AutoV1, AutoV2,
    AutoV3, SHA256, CRC32 or BLAKE3, any case), newest first. Digests of no known length or
    not hexadecimal match nothing."""
    by_column: dict[str, set[str]] = {}
    for digest in digests:
        digest = digest.strip().lower()
        if not all(c in "0123456789abcdef" for c in digest):
            continue
        for column in _HASH_COLUMNS_BY_LENGTH.get(len(digest), ()):
            by_column.setdefault(column, set()).add(digest)
    if not by_column:
        return ModelVersion.objects.none()
    match = Q()
    for column, values in by_column.items():
        match |= Q(**{f"{column}__in": sorted(values)})
    # A subquery rather than a join: no DISTINCT over every column, and half the planning
    # (1.8 to 0.7 ms of a by-hash lookup's 9 at 100,000 models).
    holding = ModelFile.objects.filter(match).values("version_id")
    return (
        ModelVersion.objects.visible_to(user)
        .filter(pk__in=holding)
        .order_by("-published_at", "-id")
    )


def versions_by_file_hash(digest: str, user) -> QuerySet[ModelVersion]:
    """versions_by_file_hashes for one digest."""
    return versions_by_file_hashes([digest], user)
