"""Reads for community pages. Everything shown starts from the catalogue's visible_to(), so
what moderation hides leaves feeds, collections, favourites and notifications for everyone
but its owner and staff."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser
from django.db.models import (
    Case,
    Count,
    Exists,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.http import Http404
from django.utils import timezone

from community.models import (
    Collection,
    CollectionItem,
    Comment,
    Favorite,
    Follow,
    Notification,
    Reaction,
    Review,
    User,
)
from models_hub.choices import NsfwLevel, Status
from models_hub.models import DownloadDay, GalleryImage, Model, ModelVersion
from models_hub.querysets import above_browsing_level, listing_levels
from models_hub.selectors import listed_models, page_of

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator


def notifications_for(user: User) -> QuerySet[Notification]:
    """A person's notifications, leaving out news of versions they can no longer see."""
    return Notification.objects.filter(user=user).filter(
        Q(version__isnull=True) | Q(version__in=ModelVersion.objects.visible_to(user))
    )


def feed_for(user: User) -> QuerySet[ModelVersion]:
    """The published versions of creators `user` follows, newest first, within the ratings
    their lists fetch."""
    levels = listing_levels(user)
    return (
        ModelVersion.objects.visible_to(user)
        .filter(
            status=Status.PUBLISHED,
            model__owner__followers__follower=user,
            nsfw_level__in=[mask for mask in range(64) if mask & ~levels == 0],
        )
        .select_related("model__owner", "base_model")
        # Each version shows its own picture, not the model's current cover (which belongs
        # to its newest version): the mildest of its images, then the first.
        .prefetch_related(
            Prefetch(
                "images",
                queryset=GalleryImage.objects.within_levels(levels).order_by(
                    "nsfw_level", "position", "id"
                )[:1],
                to_attr="feed_covers",
            )
        )
        .order_by("-published_at", "-id")
    )


@dataclass
class ProfilePage:
    person: User
    models: QuerySet[Model]
    collections: list[Collection]
    is_following: bool
    is_self: bool
    downloads: int


def profile_page(viewer: User | AnonymousUser, username: str) -> ProfilePage:
    person = User.objects.filter(username=username, is_active=True).first()
    if person is None and viewer.is_authenticated and viewer.is_staff:
        person = User.objects.filter(username=username).first()
    if person is None:
        raise Http404("No such member.")
    is_self = viewer.is_authenticated and viewer.pk == person.pk
    models = listed_models(viewer).filter(owner=person).order_by("-published_at", "-id")
    collections = Collection.objects.filter(owner=person)
    if not is_self:
        collections = collections.filter(is_public=True)
    return ProfilePage(
        person=person,
        models=models,
        collections=list(collections[:50]),
        is_following=bool(
            viewer.is_authenticated
            and Follow.objects.filter(follower=viewer, creator=person).exists()
        ),
        is_self=is_self,
        downloads=Model.objects.visible_to(viewer)
        .filter(owner=person, status=Status.PUBLISHED)
        .aggregate(total=Sum("download_count"))["total"]
        or 0,
    )


def collection_for(viewer: User | AnonymousUser, pk: int) -> Collection:
    """A collection `viewer` may open: a private one is a 404 to everyone but its owner."""
    collection = Collection.objects.select_related("owner").filter(pk=pk).first()
    if collection is None or not collection.owner.is_active:
        raise Http404("No such collection.")
    if not collection.is_public and not (
        viewer.is_authenticated and viewer.pk == collection.owner_id
    ):
        raise Http404("No such collection.")
    return collection


def collection_models(viewer: User | AnonymousUser, collection: Collection) -> QuerySet[Model]:
    return (
        listed_models(viewer)
        .filter(collection_items__collection=collection)
        .order_by("-collection_items__added_at", "-id")
    )


def favorite_models(user: User) -> QuerySet[Model]:
    return listed_models(user).filter(favorites__user=user).order_by("-favorites__created_at")


@dataclass
class ThreadedComment:
    comment: Comment
    replies: list[ThreadedComment] = field(default_factory=list)


MAX_COMMENTS_ON_PAGE = 500


def _shown_comments(
    viewer: User | AnonymousUser, *, model: Model | None = None, image: GalleryImage | None = None
) -> QuerySet[Comment]:
    """The comments on a model or an image that `viewer` sees, oldest first, at most
    MAX_COMMENTS_ON_PAGE: those moderators hid only for their author and staff, none of a
    banned member's."""
    comments = Comment.objects.filter(model=model) if model else Comment.objects.filter(image=image)
    comments = comments.filter(author__is_active=True)
    if not (viewer.is_authenticated and viewer.is_staff):
        shown = Q(hidden=False)
        if viewer.is_authenticated:
            shown |= Q(author=viewer)
        comments = comments.filter(shown)
    return comments.order_by("created_at", "id")


def _with_authors(rows: QuerySet) -> QuerySet:
    """Comments or reviews with only what they show of their author (_comment.html,
    _reviews.html): a model page reads up to 500 comments, and reading their authors'
    whole rows was about a quarter of it."""
    own = [f.name for f in rows.model._meta.concrete_fields]
    return rows.select_related("author").only(*own, "author__username", "author__avatar")


@dataclass
class _Outline:
    """What placing a comment in its thread needs, without its text or author."""

    pk: int
    parent_id: int | None
    deleted: bool


def _threads(comments: Iterable[Comment | _Outline]) -> list[ThreadedComment]:
    """Comments (oldest first) as trees. Removed ones keep their place (empty) when they
    have replies; a reply to a comment not among them (hidden by moderators, or by a
    banned member) stays with it rather than passing for a comment of its own."""
    nodes = {c.pk: ThreadedComment(c) for c in comments}
    roots: list[ThreadedComment] = []
    for node in nodes.values():
        if node.comment.parent_id is None:
            roots.append(node)
        elif parent := nodes.get(node.comment.parent_id):
            parent.replies.append(node)
    return [node for node in roots if _has_content(node)]


def _has_content(node: ThreadedComment) -> bool:
    node.replies = [reply for reply in node.replies if _has_content(reply)]
    return not node.comment.deleted or bool(node.replies)


def _whole_threads(shown: QuerySet[Comment]) -> list[ThreadedComment]:
    """Every thread of `shown` (up to MAX_COMMENTS_ON_PAGE comments), read whole at once."""
    return _threads(_with_authors(shown)[:MAX_COMMENTS_ON_PAGE])


def comment_thread(viewer: User | AnonymousUser, *, image: GalleryImage) -> list[ThreadedComment]:
    """The comments on an image as trees, oldest first, all on one page."""
    return _whole_threads(_shown_comments(viewer, image=image))


def comment_threads_page(
    viewer: User | AnonymousUser, model: Model, page: int, per_page: int
) -> tuple[list[ThreadedComment], bool]:
    """Page `page` (from 1) of the threads on a model, oldest first, and whether more
    follow. The threads are placed from the comments' ids alone; only the page's comments
    are read whole (the most discussed model showed 59 of its 441: reading them all took
    twice as long)."""
    shown = _shown_comments(viewer, model=model)
    if model.comment_count <= per_page:
        # Every thread fits on the first page: one read does (most models have a few).
        return page_of(_whole_threads(shown), page, per_page)
    outline = [
        _Outline(*row)
        for row in shown.values_list("pk", "parent_id", "deleted")[:MAX_COMMENTS_ON_PAGE]
    ]
    threads, more = page_of(_threads(outline), page, per_page)
    # A page past the end wants nothing: Django answers `pk__in=[]` without a query.
    wanted = [node.comment.pk for node in _walk(threads)]
    full = {comment.pk: comment for comment in _with_authors(shown.filter(pk__in=wanted))}
    return _filled(threads, full), more


def _walk(nodes: list[ThreadedComment]) -> Iterator[ThreadedComment]:
    for node in nodes:
        yield node
        yield from _walk(node.replies)


def _filled(nodes: list[ThreadedComment], full: dict[int, Comment]) -> list[ThreadedComment]:
    """The outline's nodes holding the whole comments; a comment gone between the two
    reads (removed or hidden just then) is left out with its replies."""
    kept = []
    for node in nodes:
        comment = full.get(node.comment.pk)
        if comment is not None:
            kept.append(ThreadedComment(comment, _filled(node.replies, full)))
    return kept


def reviews_for(viewer: User | AnonymousUser, version: ModelVersion) -> QuerySet[Review]:
    reviews = _with_authors(Review.objects.filter(version=version, author__is_active=True))
    if viewer.is_authenticated and viewer.is_staff:
        return reviews
    shown = Q(hidden=False)
    if viewer.is_authenticated:
        shown |= Q(author=viewer)
    return reviews.filter(shown)


def my_reactions(user: User | AnonymousUser, images: Iterable[GalleryImage]) -> dict[int, set[str]]:
    """{image id: the kinds `user` reacted with} for the images on a page, in one query."""
    if not user.is_authenticated:
        return {}
    mine: dict[int, set[str]] = {}
    for image_id, kind in Reaction.objects.filter(
        user=user, image__in=[image.pk for image in images]
    ).values_list("image_id", "kind"):
        mine.setdefault(image_id, set()).add(kind)
    return mine


@dataclass
class ImagePage:
    image: GalleryImage
    version: ModelVersion
    model: Model
    resources: list[dict]
    comments: list[ThreadedComment]
    my_reactions: set[str]
    blurred: bool


def image_page(viewer: User | AnonymousUser, image_id: int) -> ImagePage:
    """An image with its generation parameters, resources, reactions and comments. A 404 for
    an image of content the viewer may not see, or rated beyond their level (unless they
    asked for such content blurred, when the page shows the placeholder only)."""
    image = (
        GalleryImage.objects.visible_to(viewer)
        .select_related("version__model__owner", "version__base_model")
        .filter(pk=image_id)
        .exclude(nsfw_level=NsfwLevel.BLOCKED)
        .first()
    )
    if image is None:
        raise Http404("No such image.")
    version = image.version
    model = version.model
    is_owner = viewer.is_authenticated and model.owner_id == viewer.pk
    privileged = is_owner or (viewer.is_authenticated and viewer.is_staff)
    above = above_browsing_level(image.nsfw_level, viewer)
    if above and not privileged and image.nsfw_level & ~listing_levels(viewer):
        raise Http404("No such image.")
    return ImagePage(
        image=image,
        version=version,
        model=model,
        resources=image_resources(viewer, image),
        comments=comment_thread(viewer, image=image),
        my_reactions=my_reactions(viewer, [image]).get(image.pk, set()),
        blurred=above and not privileged,
    )


def image_resources(viewer: User | AnonymousUser, image: GalleryImage) -> list[dict]:
    """The models used to make the image: the version it was posted to, and any other
    resources its generation parameters name by hash that are on this site and visible."""
    version = image.version
    resources = [
        {
            "name": f"{version.model.name} — {version.name}",
            "type": version.model.get_type_display(),
            "url": version.model.get_absolute_url() + f"?version={version.pk}",
        }
    ]
    params = image.generation_params or {}
    hashes = []
    model_hash = params.get("Model hash") or params.get("modelHash")
    if isinstance(model_hash, str):
        hashes.append(model_hash)
    raw = params.get("resources")
    if isinstance(raw, list):
        for item in raw[:20]:
            if isinstance(item, dict) and isinstance(item.get("hash"), str):
                hashes.append(item["hash"])
    if hashes:
        from models_hub.selectors import versions_by_file_hashes

        for found in versions_by_file_hashes(hashes, viewer).select_related("model")[:20]:
            if found.pk == version.pk:
                continue
            resources.append(
                {
                    "name": f"{found.model.name} — {found.name}",
                    "type": found.model.get_type_display(),
                    "url": found.model.get_absolute_url() + f"?version={found.pk}",
                }
            )
    return resources


def followed_ids(viewer: User | AnonymousUser, people: Iterable[User]) -> set[int]:
    if not viewer.is_authenticated:
        return set()
    return set(
        Follow.objects.filter(follower=viewer, creator__in=[p.pk for p in people]).values_list(
            "creator_id", flat=True
        )
    )


CHART_DAYS = 30


def _window() -> tuple[date, date]:
    today = timezone.localdate()
    return today - timedelta(days=CHART_DAYS - 1), today


def _downloads_per_day(versions: QuerySet[ModelVersion]) -> QuerySet:
    """Rows of `day` and `total`: the downloads of these versions on each day of the chart
    window, summed in the database (without the default order, which a UNION refuses)."""
    start, _end = _window()
    return (
        DownloadDay.objects.filter(version__in=versions, day__gte=start)
        .values("day")
        .annotate(total=Sum("count"))
        .order_by()
    )


def downloads_by_day(versions: QuerySet[ModelVersion]) -> dict[date, int]:
    return dict(_downloads_per_day(versions).values_list("day", "total"))


# What activity_by_day's rows count.
_DOWNLOADS, _RECOMMENDED, _NOT_RECOMMENDED = 0, 1, 2


@dataclass
class Activity:
    """Per day over the chart window: downloads, and reviews recommending or not."""

    downloads: dict[date, int]
    recommended: dict[date, int]
    not_recommended: dict[date, int]


def activity_by_day(versions: QuerySet[ModelVersion]) -> Activity:
    """The model page's two charts in one query (a UNION of the two sums, each without the
    models' default order, which SQLite refuses there): a round trip and a compiled query
    fewer on every model page."""
    start, _end = _window()
    downloads = (
        _downloads_per_day(versions)
        .annotate(kind=Value(_DOWNLOADS))
        .values_list("day", "kind", "total")
    )
    reviews = (
        Review.objects.filter(version__in=versions, hidden=False, created_at__date__gte=start)
        .annotate(
            day=TruncDate("created_at"),
            kind=Case(
                When(recommended=True, then=Value(_RECOMMENDED)), default=Value(_NOT_RECOMMENDED)
            ),
        )
        .values("day", "kind")
        .annotate(total=Count("id"))
        .order_by()
        .values_list("day", "kind", "total")
    )
    activity = Activity({}, {}, {})
    by_kind = {
        _DOWNLOADS: activity.downloads,
        _RECOMMENDED: activity.recommended,
        _NOT_RECOMMENDED: activity.not_recommended,
    }
    for day, kind, total in downloads.union(reviews, all=True):
        by_kind[kind][day] = total
    return activity


def creator_downloads_chart(page: ProfilePage) -> dict[date, int]:
    return downloads_by_day(
        ModelVersion.objects.filter(
            model__owner=page.person, status=Status.PUBLISHED, model__status=Status.PUBLISHED
        )
    )


@dataclass
class ModelSocial:
    """What the model page shows beside the model itself: the viewer's own marks, reviews of
    the version and the comment thread."""

    is_favorite: bool
    is_following: bool
    collections: list[tuple[Collection, bool]]  # the viewer's, and whether the model is in it
    my_review: Review | None
    reviews: list[Review]  # one page of them, newest first
    reviews_page: int
    more_reviews: bool
    comments: list[ThreadedComment]  # one page of threads, oldest first
    comments_page: int
    more_comments: bool
    my_reactions: dict[int, set[str]]
    activity: Activity


# The model page shows reviews and comment threads a page at a time: the most reviewed model
# of the 100,000 seeded had 3,406 reviews and 441 comments, and rendering 100 reviews and
# every comment took most of its 190 ms (docs/PERFORMANCE.md).
REVIEWS_PER_PAGE = 20
THREADS_PER_PAGE = 20


def model_social(
    viewer: User | AnonymousUser,
    model: Model,
    version: ModelVersion,
    images: list[GalleryImage],
    *,
    reviews_page: int = 1,
    comments_page: int = 1,
) -> ModelSocial:
    """A fixed number of queries whatever the number of images, reviews or comments: up to
    nine for a signed-in visitor, four for an anonymous one (the comments take a second read
    when they run past a page). `reviews_page` and
    `comments_page` count from 1; a page past the end is empty."""
    signed_in = viewer.is_authenticated
    is_owner = signed_in and viewer.pk == model.owner_id
    collections: list[tuple[Collection, bool]] = []
    if signed_in:
        holding = CollectionItem.objects.filter(collection=OuterRef("pk"), model=model)
        collections = [
            (c, c.holds)
            for c in Collection.objects.filter(owner=viewer).annotate(holds=Exists(holding))[:100]
        ]
    reviews, more_reviews = page_of(reviews_for(viewer, version), reviews_page, REVIEWS_PER_PAGE)
    my_review = None
    if signed_in and not is_owner:
        my_review = next((r for r in reviews if r.author_id == viewer.pk), None) or (
            Review.objects.filter(version=version, author=viewer).first()
            if more_reviews or reviews_page > 1
            else None
        )
    comments, more_comments = comment_threads_page(viewer, model, comments_page, THREADS_PER_PAGE)
    return ModelSocial(
        is_favorite=signed_in and Favorite.objects.filter(user=viewer, model=model).exists(),
        is_following=signed_in
        and not is_owner
        and Follow.objects.filter(follower=viewer, creator_id=model.owner_id).exists(),
        collections=collections,
        my_review=my_review,
        reviews=reviews,
        reviews_page=reviews_page,
        more_reviews=more_reviews,
        comments=comments,
        comments_page=comments_page,
        more_comments=more_comments,
        my_reactions=my_reactions(viewer, images) if images else {},
        activity=activity_by_day(ModelVersion.objects.filter(model=model, status=Status.PUBLISHED)),
    )
