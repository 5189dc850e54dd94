"""Writes for people's accounts and what they do together: profiles, preferences,
follows, reviews, comments, reactions, favourites, collections and notifications.

Every counter shown on a page (followers, thumbs up and down, comments, reactions,
favourites) is kept here, in the same transaction as the row it counts; the unique
constraints on the rows make a repeated click a no-op instead of a second count.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from community.avatars import make_avatar
from community.models import (
    MAX_PROFILE_LINKS,
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
from models_hub.formats.images import ImageRejected

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile

    from models_hub.models import GalleryImage, Model, ModelVersion

log = logging.getLogger(__name__)


def notify(*, user: User, title: str, body: str, url: str = "") -> Notification:
    """Tell a person something on the site and by e-mail (after commit, so a rolled-back
    decision sends nothing; a mail server that is down never undoes the decision)."""
    notification = Notification.objects.create(user=user, title=title, body=body, url=url)
    if user.email:
        link = f"\n\n{settings.SITE_URL}{url}" if url else ""
        transaction.on_commit(
            lambda: send_email(user.email, f"[{settings.SITE_NAME}] {title}", body + link)
        )
    return notification


def send_email(address: str, subject: str, text: str) -> None:
    """Send one e-mail; a mail server that is down is logged, never raised to the caller."""
    try:
        send_mail(subject, text, None, [address])
    except OSError:
        log.exception("Could not e-mail %s about %r", address, subject)


# Profiles and preferences ---------------------------------------------------------------


class ProfileRefused(ValueError):
    """A profile edit that cannot be saved; the message says why, for the person."""


def _clean_links(raw: list[str]) -> list[str]:
    links = []
    for value in raw:
        value = value.strip()
        if not value:
            continue
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError:
            raise ProfileRefused(
                _("“%(link)s” is not a web address (it must start with https:// or http://).")
                % {"link": value[:100]}
            ) from None
        if len(value) > 500:
            raise ProfileRefused(_("A link may be at most 500 characters long."))
        if value not in links:
            links.append(value)
    if len(links) > MAX_PROFILE_LINKS:
        raise ProfileRefused(
            _("At most %(count)d links fit on a profile.") % {"count": MAX_PROFILE_LINKS}
        )
    return links


def profile_update(
    *,
    user: User,
    bio: str,
    links: list[str],
    avatar: UploadedFile | None = None,
    remove_avatar: bool = False,
) -> User:
    """Save a person's bio (Markdown, sanitised when shown), links and picture. Nothing is
    changed unless everything is valid; a replaced picture is deleted after the commit."""
    if len(bio) > 5000:
        raise ProfileRefused(_("The bio may be at most 5,000 characters long."))
    user.bio = bio.replace("\x00", "")
    user.links = _clean_links(links)
    old_avatar = user.avatar.name if user.avatar else ""
    fields = ["bio", "links"]
    if avatar is not None:
        try:
            content = make_avatar(avatar)
        except ImageRejected as exc:
            raise ProfileRefused(str(exc)) from None
        user.avatar.save("avatar.webp", ContentFile(content), save=False)
        fields.append("avatar")
    elif remove_avatar and old_avatar:
        user.avatar = ""
        fields.append("avatar")
    try:
        with transaction.atomic():
            user.save(update_fields=fields)
    except Exception:
        if "avatar" in fields and user.avatar:
            user.avatar.storage.delete(user.avatar.name)
        raise
    if "avatar" in fields and old_avatar:
        transaction.on_commit(lambda: default_storage.delete(old_avatar))
    return user


def browsing_preferences_update(*, user: User, levels: int, above_level: str) -> User:
    """Which ratings a person sees and what lists do with the rest. PG is always included;
    BLOCKED never can be."""
    viewable = 0
    for level in NsfwLevel.viewable():
        viewable |= level
    user.browsing_level = (levels & viewable) | NsfwLevel.PG
    if above_level not in User.AboveLevel.values:
        above_level = User.AboveLevel.HIDE
    user.above_level = above_level
    user.save(update_fields=["browsing_level", "above_level"])
    return user


# Follows and the notifications they bring -------------------------------------------------


def _set_row(
    row_model, fields: dict, on: bool | None, counted: QuerySet | None = None, counter: str = ""
) -> bool:
    """Make the one row with `fields` exist or not (`on` None toggles); returns whether it
    exists now. The unique constraint on `fields` decides a race between two requests, and
    `counter` on the `counted` row moves only when this call really added or removed it, so
    a double click never counts twice. The caller holds a transaction."""
    existing = row_model.objects.filter(**fields)
    want = (not existing.exists()) if on is None else on
    if want:
        try:
            with transaction.atomic():
                row_model.objects.create(**fields)
        except IntegrityError:
            return True  # a second request raced the first: it is there already
        if counted is not None:
            counted.update(**{counter: F(counter) + 1})
        return True
    deleted, _rows = existing.delete()
    if deleted and counted is not None:
        counted.update(**{counter: F(counter) - 1})
    return False


@transaction.atomic
def follow_set(*, follower: User, creator: User, on: bool | None = None) -> bool:
    """Follow or unfollow (`on` None toggles); returns whether `follower` now follows.
    Doing it twice never counts twice: the unique constraint decides, the counter follows."""
    if follower.pk == creator.pk:
        raise ProfileRefused(_("You cannot follow yourself."))
    return _set_row(
        Follow,
        {"follower": follower, "creator": creator},
        on,
        User.objects.filter(pk=creator.pk),
        "follower_count",
    )


NOTIFY_BATCH = 1000


def followers_notify_new_version(*, version_id: int) -> int:
    """Tell the creator's followers about a newly published version; returns how many were
    told. Idempotent: a follower already told about this version is skipped (the unique
    constraint), so the task may run again after a crash. Followers who could not see the
    version (its rating is above their browsing level) are not told."""
    from models_hub.models import ModelVersion

    version = (
        ModelVersion.objects.filter(pk=version_id, status=Status.PUBLISHED)
        .select_related("model__owner")
        .first()
    )
    if version is None or version.model.status != Status.PUBLISHED:
        return 0
    creator = version.model.owner
    title = f"{creator.username} published {version}"
    url = version.model.get_absolute_url() + f"?version={version.pk}"
    told = 0
    # Those told already (an earlier run) are left out here, so the count returned is of
    # new notifications: bulk_create(ignore_conflicts=True) returns every row it was given,
    # inserted or not. The constraint still settles two runs at the same moment.
    already_told = Notification.objects.filter(
        user=OuterRef("pk"), kind=Notification.Kind.NEW_VERSION, version=version
    )
    followers = (
        User.objects.filter(following__creator=creator, is_active=True)
        .exclude(Exists(already_told))
        .only("pk", "browsing_level")
        .order_by("pk")
    )
    batch: list[Notification] = []
    for follower in followers.iterator(chunk_size=NOTIFY_BATCH):
        if version.nsfw_level & ~(follower.browsing_level or NsfwLevel.PG):
            continue
        batch.append(
            Notification(
                user=follower,
                kind=Notification.Kind.NEW_VERSION,
                version=version,
                title=title,
                body=f"{version.model.name}: {version.name} is out.",
                url=url,
            )
        )
        if len(batch) >= NOTIFY_BATCH:
            told += len(Notification.objects.bulk_create(batch, ignore_conflicts=True))
            batch = []
    if batch:
        told += len(Notification.objects.bulk_create(batch, ignore_conflicts=True))
    return told


# Reviews, comments, reactions, favourites --------------------------------------------------


class ActionRefused(ValueError):
    """A community action that is not allowed; the message says why, for the person."""


def _review_counter_delta(review: Review, sign: int) -> dict[str, F]:
    field = "thumbs_up_count" if review.recommended else "thumbs_down_count"
    return {field: F(field) + sign}


def _count_review(review: Review, sign: int) -> None:
    from models_hub.models import Model, ModelVersion

    if review.hidden:
        return
    delta = _review_counter_delta(review, sign)
    ModelVersion.objects.filter(pk=review.version_id).update(**delta)
    Model.objects.filter(versions__pk=review.version_id).update(**delta)


@transaction.atomic
def review_save(*, author: User, version: ModelVersion, recommended: bool, text: str) -> Review:
    """Write or rewrite the author's one review of `version` (the unique constraint makes a
    second submission an edit, never a second review)."""
    if version.model.owner_id == author.pk:
        raise ActionRefused(_("You cannot review your own model."))
    text = text.replace("\x00", "").strip()
    if len(text) > 5000:
        raise ActionRefused(_("A review may be at most 5,000 characters long."))
    review = Review.objects.select_for_update().filter(version=version, author=author).first()
    if review is None:
        try:
            with transaction.atomic():
                review = Review.objects.create(
                    version=version, author=author, recommended=recommended, text=text
                )
        except IntegrityError:
            # The same form sent twice at once: the first one made it; this one edits it.
            review = Review.objects.select_for_update().get(version=version, author=author)
        else:
            _count_review(review, +1)
            return review
    _count_review(review, -1)
    review.recommended = recommended
    review.text = text
    review.save(update_fields=["recommended", "text", "updated_at"])
    _count_review(review, +1)
    return review


@transaction.atomic
def review_delete(*, author: User, version: ModelVersion) -> bool:
    review = Review.objects.select_for_update().filter(version=version, author=author).first()
    if review is None:
        return False
    _count_review(review, -1)
    review.delete()
    return True


@transaction.atomic
def review_hide(*, review_id: int, hidden: bool = True) -> None:
    """A moderator hides a review (or shows it again); the counts leave out hidden reviews."""
    review = Review.objects.select_for_update().filter(pk=review_id).first()
    if review is None or review.hidden == hidden:
        return
    _count_review(review, -1)
    review.hidden = hidden
    review.save(update_fields=["hidden"])
    _count_review(review, +1)


def _count_comment(comment: Comment, sign: int) -> None:
    from models_hub.models import GalleryImage, Model

    target = Model if comment.model_id else GalleryImage
    target.objects.filter(pk=comment.model_id or comment.image_id).update(
        comment_count=F("comment_count") + sign
    )


@transaction.atomic
def comment_create(
    *,
    author: User,
    body: str,
    model: Model | None = None,
    image: GalleryImage | None = None,
    parent: Comment | None = None,
) -> Comment:
    """A comment on a model or an image, or a reply in its thread (`parent` must be on the
    same model or image). The body is Markdown, sanitised when rendered."""
    body = body.replace("\x00", "").strip()
    if not body:
        raise ActionRefused(_("Write something first."))
    if len(body) > 5000:
        raise ActionRefused(_("A comment may be at most 5,000 characters long."))
    if (model is None) == (image is None):
        raise ActionRefused(_("A comment belongs to a model or to an image."))
    if parent is not None and (
        parent.model_id != (model.pk if model else None)
        or parent.image_id != (image.pk if image else None)
    ):
        raise ActionRefused(_("That reply belongs to another thread."))
    if parent is not None and (parent.hidden or parent.deleted):
        raise ActionRefused(_("That comment was removed; it takes no replies."))
    comment = Comment.objects.create(
        author=author, body=body, model=model, image=image, parent=parent
    )
    _count_comment(comment, +1)
    return comment


@transaction.atomic
def comment_delete(*, comment_id: int, by: User) -> bool:
    """The author (or staff) removes a comment. It keeps its place so replies still read
    in order; its text is gone."""
    comment = Comment.objects.select_for_update().filter(pk=comment_id).first()
    if comment is None or comment.deleted or not (comment.author_id == by.pk or by.is_staff):
        return False
    if not comment.hidden:
        _count_comment(comment, -1)
    comment.deleted = True
    comment.body = ""
    comment.save(update_fields=["deleted", "body"])
    return True


@transaction.atomic
def comment_hide(*, comment_id: int, hidden: bool = True) -> None:
    """A moderator hides a comment (or shows it again)."""
    comment = Comment.objects.select_for_update().filter(pk=comment_id).first()
    if comment is None or comment.hidden == hidden or comment.deleted:
        return
    comment.hidden = hidden
    comment.save(update_fields=["hidden"])
    _count_comment(comment, -1 if hidden else +1)


REACTION_COUNTERS = {
    Reaction.Kind.LIKE: "like_count",
    Reaction.Kind.HEART: "heart_count",
    Reaction.Kind.LAUGH: "laugh_count",
    Reaction.Kind.CRY: "cry_count",
}


@transaction.atomic
def reaction_set(*, user: User, image: GalleryImage, kind: str, on: bool | None = None) -> bool:
    """React to an image, or take the reaction back (`on` None toggles). Returns whether
    the reaction is now there. The same request twice never counts twice."""
    from models_hub.models import GalleryImage

    if kind not in REACTION_COUNTERS:
        raise ActionRefused(_("Unknown reaction."))
    return _set_row(
        Reaction,
        {"user": user, "image": image, "kind": kind},
        on,
        GalleryImage.objects.filter(pk=image.pk),
        REACTION_COUNTERS[kind],
    )


@transaction.atomic
def favorite_set(*, user: User, model: Model, on: bool | None = None) -> bool:
    """Favourite a model or stop (`on` None toggles); Model.like_count follows."""
    from models_hub.models import Model

    return _set_row(
        Favorite,
        {"user": user, "model": model},
        on,
        Model.objects.filter(pk=model.pk),
        "like_count",
    )


# Collections -------------------------------------------------------------------------------


def _collection_fields(name: str, description: str) -> tuple[str, str]:
    name = name.replace("\x00", "").strip()
    description = description.replace("\x00", "").strip()
    if not name:
        raise ActionRefused(_("Give the collection a name."))
    if len(name) > 100:
        raise ActionRefused(_("A collection name may be at most 100 characters long."))
    if len(description) > 2000:
        raise ActionRefused(_("A description may be at most 2,000 characters long."))
    return name, description


def collection_create(
    *, owner: User, name: str, description: str = "", is_public: bool = True
) -> Collection:
    name, description = _collection_fields(name, description)
    try:
        with transaction.atomic():
            return Collection.objects.create(
                owner=owner, name=name, description=description, is_public=is_public
            )
    except IntegrityError:
        raise ActionRefused(
            _("You already have a collection called “%(name)s”.") % {"name": name}
        ) from None


def collection_update(
    *, collection: Collection, name: str, description: str, is_public: bool
) -> Collection:
    collection.name, collection.description = _collection_fields(name, description)
    collection.is_public = is_public
    try:
        with transaction.atomic():
            collection.save(update_fields=["name", "description", "is_public", "updated_at"])
    except IntegrityError:
        raise ActionRefused(
            _("You already have a collection called “%(name)s”.") % {"name": collection.name}
        ) from None
    return collection


@transaction.atomic
def collection_item_set(*, collection: Collection, model: Model, on: bool | None = None) -> bool:
    """Put a model into a collection or take it out (`on` None toggles)."""
    now_in = _set_row(CollectionItem, {"collection": collection, "model": model}, on)
    Collection.objects.filter(pk=collection.pk).update(updated_at=timezone.now())
    return now_in
