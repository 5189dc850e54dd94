"""What the v1 list endpoints read: the caller's visibility and NSFW levels first, then the
filters Civitai's clients send. Each returns a queryset whose related rows are prefetched in a
fixed number of queries, whatever the page size."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

import orjson
from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    Func,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    TextField,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

from community.models import Favorite, User
from models_hub.api.params import ApiParams
from models_hub.api.shapes import IMAGE_FIELDS
from models_hub.choices import CommercialUse, ModelType, Status
from models_hub.models import BaseModel, GalleryImage, Model, ModelFile, ModelVersion, Tag
from models_hub.querysets import browsing_level_of
from models_hub.selectors import SEARCH_ORDER, search_models

# Civitai's sorts, each a keyset ending in a unique column. "Highest Rated" ranks by the
# reviews that recommend the model, then favourites, then downloads.
MODEL_ORDERS = {
    "Highest Rated": ("-thumbs_up_count", "-like_count", "-download_count", "-id"),
    "Most Downloaded": ("-download_count", "-id"),
    "Most Liked": ("-like_count", "-id"),
    "Newest": ("-published_at", "-id"),
    "Oldest": ("published_at", "id"),
}
RELEVANCE = "Relevance"
# Images have no reactions or comments yet (issue 7): those sorts are accepted, and with
# every count zero they fall back to the newest first, as a tie would.
IMAGE_ORDERS = {
    "Newest": ("-id",),
    "Oldest": ("id",),
    "Most Reactions": ("-id",),
    "Most Comments": ("-id",),
    "Most Collected": ("-id",),
}
PERIODS = {"AllTime": None, "Year": 365, "Month": 30, "Week": 7, "Day": 1}
# Civitai's commercial names, as ranks of ours ("RentCivit" is renting on the site itself).
COMMERCIAL_RANKS = {"Image": 1, "RentCivit": 2, "Rent": 2, "Sell": 3}
# Each version's first images in gallery order, as Civitai's API gives them (its
# `imagesPerVersion`: 10 in lists, in a model and in a version alike); the whole gallery is
# /api/v1/images?modelVersionId=. A version can hold hundreds, and shaping them all was most
# of a by-hash lookup (docs/PERFORMANCE.md).
IMAGES_PER_VERSION = 10


def _since(params: ApiParams, column: str) -> Q:
    """The `period` parameter as a filter on `column` (published_at, created_at)."""
    days = PERIODS[params.choice("period", PERIODS, "AllTime")]
    return Q() if days is None else Q(**{f"{column}__gte": timezone.now() - timedelta(days=days)})


def _version_files(*, primary_file_only: bool = False) -> Prefetch:
    """A version's files, primary first."""
    files = ModelFile.objects.order_by("-is_primary", "id")
    if primary_file_only:
        files = files.filter(is_primary=True)
    return Prefetch("files", queryset=files)


# What of an image's generation parameters the API does not show: the text they were read
# from, which repeats them.
UNSHOWN_PARAM = "raw"


class _JSONText(TextField):
    """JSON text from the database, read by orjson; an empty object reads as None."""

    def from_db_value(self, value, expression, connection):
        return (orjson.loads(value) or None) if value else None


class ShownParams(Func):
    """An image's `meta` as the API shows it: its generation parameters without
    UNSHOWN_PARAM (None unless an object). The database drops the raw text, often longer
    than the rest, and writes JSON that orjson reads: Django's JSONField read each with
    json.loads, about 4,500 on a page of 100 models, the largest part of making it after
    the SQL (docs/PERFORMANCE.md). Takes a column: the template names it twice."""

    arity = 1
    output_field = _JSONText()

    def __init__(self):
        super().__init__("generation_params")

    def as_postgresql(self, compiler, connection, **extra):
        template = (
            "CASE WHEN jsonb_typeof(%(expressions)s) = 'object'"
            f" THEN (%(expressions)s - '{UNSHOWN_PARAM}')::text END"
        )
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        template = (
            "CASE WHEN json_type(%(expressions)s) = 'object'"
            f" THEN json_remove(%(expressions)s, '$.{UNSHOWN_PARAM}') END"
        )
        return self.as_sql(compiler, connection, template=template, **extra)


def attach_images(versions: Iterable[ModelVersion], levels: int) -> None:
    """Give each version `api_images`: its first IMAGES_PER_VERSION images within `levels`,
    in gallery order, as rows (dicts of IMAGE_FIELDS) for shapes.image_json. One query for
    all the versions. Rows, not model instances: a page of 100 models shows about 4,500
    images, and building an instance and a FieldFile for each took longer than the query
    (docs/PERFORMANCE.md)."""
    versions = list(versions)
    if not versions:
        return
    rows = GalleryImage.objects.within_levels(levels)
    if len(versions) == 1:
        # A plain LIMIT: numbering the rows as below cost a by-hash lookup a millisecond.
        rows = rows.filter(version=versions[0].pk).order_by("position", "id")
        rows = rows[:IMAGES_PER_VERSION]
    else:
        place = Window(RowNumber(), partition_by=F("version_id"), order_by=(F("position"), F("id")))
        rows = (
            rows.filter(version__in=[version.pk for version in versions])
            .annotate(place=place)
            .filter(place__lte=IMAGES_PER_VERSION)
            .order_by("version_id", "position", "id")
        )
    by_version = defaultdict(list)
    for row in rows.values(*IMAGE_FIELDS, meta=ShownParams()):
        by_version[row["version_id"]].append(row)
    for version in versions:
        version.api_images = by_version[version.pk]


def with_files(versions: QuerySet[ModelVersion]) -> QuerySet:
    """Versions ready for shapes.version_json once `attach_images` has run: model, owner
    and base model joined, files prefetched."""
    return versions.select_related("model__owner", "base_model").prefetch_related(_version_files())


def versions_prefetch(user, *, primary_file_only: bool = False) -> Prefetch:
    """A model's versions the caller may see (newest first, as `api_versions`), with their
    files; `attach_images` adds the images."""
    versions = (
        ModelVersion.objects.visible_to(user)
        .select_related("base_model")
        .order_by("-created_at", "-id")
        .prefetch_related(_version_files(primary_file_only=primary_file_only))
    )
    return Prefetch("versions", queryset=versions, to_attr="api_versions")


def attach_model_images(models: Iterable[Model], levels: int) -> None:
    """`attach_images` for the versions of `models` (prefetched by versions_prefetch)."""
    attach_images((v for model in models for v in model.api_versions), levels)


@dataclass
class ModelSearch:
    """GET /api/v1/models, parsed."""

    levels: int
    order: tuple[str, ...] | None  # None: ranked by relevance to `query`
    query: str = ""
    filters: list[Q] = field(default_factory=list)
    primary_file_only: bool = False
    none: bool = False  # hidden=true: hiding models from one's lists does not exist yet

    @classmethod
    def from_request(cls, request: Request) -> ModelSearch:
        params = ApiParams(request.query_params)
        query = params.text("query")
        sorts = [*MODEL_ORDERS, RELEVANCE]
        default = RELEVANCE if query else "Highest Rated"
        sort = params.choice("sort", sorts, default)
        if sort == RELEVANCE and (not query or connection.vendor != "postgresql"):
            sort = "Highest Rated"  # only PostgreSQL ranks; nothing to rank without a query
        search = cls(
            levels=params.nsfw_levels(browsing_level_of(request.user)),
            order=None if sort == RELEVANCE else MODEL_ORDERS[sort],
            query=query,
            primary_file_only=bool(params.boolean("primaryFileOnly")),
        )
        add = search.filters.append
        add(_since(params, "published_at"))
        if types := params.choices("types", ModelType.values):
            add(Q(type__in=types))
        if ids := params.ids("ids"):
            add(Q(pk__in=ids))
        if username := params.text("username", 150):
            add(Q(owner__username__iexact=username))
        if tag := params.text("tag", 50):
            add(Q(tags__name__iexact=tag))
        by_name = {}
        if "baseModels" in request.query_params or "baseModels[]" in request.query_params:
            for base in BaseModel.objects.only("name", "slug"):
                by_name[base.name] = by_name[base.slug] = base.pk
        if base_models := params.choices("baseModels", by_name):
            add(Q(pk__in=_with_base_models({by_name[name] for name in base_models})))
        for name, column in (
            ("allowNoCredit", "allow_no_credit"),
            ("allowDerivatives", "allow_derivatives"),
        ):
            if (wanted := params.boolean(name)) is not None:
                add(Q(**{column: wanted}))
        wanted = params.boolean("allowDifferentLicense", "allowDifferentLicenses")
        if wanted is not None:
            add(Q(allow_different_license=wanted))
        if commercial := params.choices("allowCommercialUse", ["None", *COMMERCIAL_RANKS]):
            add(_commercial_filter(commercial))
        for needs_account in ("favorites", "hidden"):
            if params.boolean(needs_account) and not request.user.is_authenticated:
                raise NotAuthenticated(f"{needs_account}=true needs an API key.")
        if params.boolean("favorites"):
            add(Q(pk__in=Favorite.objects.filter(user=request.user).values("model_id")))
        if params.boolean("hidden"):
            search.none = True  # nobody can hide a model from their own lists yet
        return search

    def queryset(self, user) -> QuerySet[Model]:
        if self.none:
            return Model.objects.none()
        # The outer query already keeps models the caller may see (published, active
        # owner); repeating visible_to here joined the model and its owner again per row.
        public_version = ModelVersion.objects.filter(model=OuterRef("pk"), status=Status.PUBLISHED)
        models = (
            Model.objects.visible_to(user)
            .filter(Exists(public_version), *self.filters, status=Status.PUBLISHED)
            .within_levels(self.levels)
        )
        if self.query:
            models = search_models(models, self.query)
        ordering = SEARCH_ORDER if self.order is None else self.order
        return (
            models.order_by(*ordering)
            .select_related("owner", "license")
            .prefetch_related(
                "tags",
                versions_prefetch(user, primary_file_only=self.primary_file_only),
            )
        )


def _with_base_models(base_model_ids: set[int]) -> QuerySet:
    # Published versions only: the outer query keeps what the caller may see.
    return ModelVersion.objects.filter(
        base_model__in=base_model_ids, status=Status.PUBLISHED
    ).values("model_id")


def _commercial_filter(asked: list[str]) -> Q:
    if "None" in asked:
        return Q(allow_commercial_use=CommercialUse.NONE)
    least = max(COMMERCIAL_RANKS[name] for name in asked)
    return Q(allow_commercial_use__in=[c for c in CommercialUse if CommercialUse.rank(c) >= least])


def model_with_versions(user, model_id: int) -> Model | None:
    """GET /api/v1/models/{id}: the model if the caller may see it, its images within the
    caller's browsing level."""
    model = (
        Model.objects.visible_to(user)
        .filter(pk=model_id)
        .select_related("owner", "license")
        .prefetch_related("tags", versions_prefetch(user))
        .first()
    )
    if model is not None:
        attach_model_images([model], browsing_level_of(user))
    return model


def listed_images(request: Request) -> tuple[QuerySet[GalleryImage], tuple[str, ...]]:
    """GET /api/v1/images: images of versions the caller may see, within the levels asked."""
    params = ApiParams(request.query_params)
    user = request.user
    order = IMAGE_ORDERS[params.choice("sort", IMAGE_ORDERS, "Newest")]
    images = GalleryImage.objects.visible_to(user).within_levels(
        params.nsfw_levels(browsing_level_of(user))
    )
    images = images.filter(_since(params, "created_at"))
    if (model_id := params.id("modelId")) is not None:
        images = images.filter(version__model_id=model_id)
    if (version_id := params.id("modelVersionId")) is not None:
        images = images.filter(version_id=version_id)
    if params.id("postId") is not None:
        images = images.none()  # images belong to versions here, not to posts
    if username := params.text("username", 150):
        images = images.filter(version__model__owner__username__iexact=username)
    images = images.select_related("version__model__owner", "version__base_model")
    images = images.defer("generation_params").annotate(meta=ShownParams())
    return images.order_by(*order), order


def creators(request: Request) -> QuerySet[User]:
    """Members with published models, the most prolific first."""
    params = ApiParams(request.query_params)
    published = Q(hub_models__status=Status.PUBLISHED)
    people = (
        User.objects.filter(is_active=True)
        .annotate(model_count=Count("hub_models", filter=published))
        .filter(model_count__gt=0)
    )
    if query := params.text("query", 150):
        people = people.filter(username__icontains=query)
    return people.order_by("-model_count", "username")


def tags(request: Request) -> QuerySet[Tag]:
    """Tags of published models, the most used first."""
    params = ApiParams(request.query_params)
    published = Q(models__status=Status.PUBLISHED, models__owner__is_active=True)
    found = Tag.objects.annotate(model_count=Count("models", filter=published)).filter(
        model_count__gt=0
    )
    if query := params.text("query", 50):
        found = found.filter(name__icontains=query)
    return found.order_by("-model_count", "name")
