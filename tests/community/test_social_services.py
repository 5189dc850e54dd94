"""community.services: the counters stay equal to a recount whatever the order of clicks,
the unique constraints turn a repeated or racing request into a no-op, and the follower
notification is sent once to the right people. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from PIL import Image

from community import services, tasks
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
from community.services import ActionRefused, ProfileRefused
from models_hub.choices import NsfwLevel, Status
from models_hub.models import GalleryImage, Model, ModelVersion
from models_hub.services import version_publish
from tests.factories import (
    FileFactory,
    UserFactory,
    VersionFactory,
    published_model,
)

pytestmark = pytest.mark.django_db


# Recounts: what every denormalised counter must equal ------------------------------------


def assert_follow_counts(*people: User) -> None:
    for person in people:
        person.refresh_from_db()
        assert person.follower_count == Follow.objects.filter(creator=person).count()


def assert_review_counts(model: Model) -> None:
    model.refresh_from_db()
    shown = Review.objects.filter(version__model=model, hidden=False)
    assert model.thumbs_up_count == shown.filter(recommended=True).count()
    assert model.thumbs_down_count == shown.filter(recommended=False).count()
    for version in ModelVersion.objects.filter(model=model):
        own = shown.filter(version=version)
        assert version.thumbs_up_count == own.filter(recommended=True).count()
        assert version.thumbs_down_count == own.filter(recommended=False).count()


def assert_comment_counts(*, model: Model | None = None, image: GalleryImage | None = None):
    target = model or image
    target.refresh_from_db()
    comments = Comment.objects.filter(model=model) if model else Comment.objects.filter(image=image)
    assert target.comment_count == comments.filter(hidden=False, deleted=False).count()


def assert_reaction_counts(image: GalleryImage) -> None:
    image.refresh_from_db()
    for kind, counter in services.REACTION_COUNTERS.items():
        assert getattr(image, counter) == Reaction.objects.filter(image=image, kind=kind).count()


def assert_favorite_count(model: Model) -> None:
    model.refresh_from_db()
    assert model.like_count == Favorite.objects.filter(model=model).count()


# Follows ------------------------------------------------------------------------------------


def test_follow_toggled_twice_leaves_no_follow_and_no_count(owner, stranger):
    assert services.follow_set(follower=stranger, creator=owner) is True
    assert_follow_counts(owner)
    assert owner.follower_count == 1
    assert services.follow_set(follower=stranger, creator=owner) is False
    assert_follow_counts(owner)
    assert owner.follower_count == 0


def test_follow_sent_twice_with_on_counts_once(owner, stranger):
    # The second request finds the row the first one made: the unique constraint answers,
    # inside a savepoint, and the counter is not touched again.
    assert services.follow_set(follower=stranger, creator=owner, on=True) is True
    assert services.follow_set(follower=stranger, creator=owner, on=True) is True
    assert Follow.objects.filter(follower=stranger, creator=owner).count() == 1
    assert_follow_counts(owner)
    assert owner.follower_count == 1
    # The transaction is still usable after the IntegrityError (PostgreSQL aborts it
    # otherwise): unfollowing twice counts down once.
    assert services.follow_set(follower=stranger, creator=owner, on=False) is False
    assert services.follow_set(follower=stranger, creator=owner, on=False) is False
    assert_follow_counts(owner)
    assert owner.follower_count == 0


def test_follow_race_where_the_row_appeared_first_is_not_counted_again(owner, stranger):
    # The other request of a double click made the row (and counted it) between our check
    # and our insert.
    Follow.objects.create(follower=stranger, creator=owner)
    User.objects.filter(pk=owner.pk).update(follower_count=1)
    assert services.follow_set(follower=stranger, creator=owner, on=True) is True
    assert_follow_counts(owner)
    assert owner.follower_count == 1


def test_following_yourself_is_refused(owner):
    with pytest.raises(ProfileRefused):
        services.follow_set(follower=owner, creator=owner, on=True)
    assert not Follow.objects.exists()


def test_several_followers_are_counted_separately(owner, stranger, staff):
    services.follow_set(follower=stranger, creator=owner, on=True)
    services.follow_set(follower=staff, creator=owner, on=True)
    services.follow_set(follower=owner, creator=stranger, on=True)
    services.follow_set(follower=staff, creator=owner)  # toggles off
    assert_follow_counts(owner, stranger, staff)
    assert (owner.follower_count, stranger.follower_count) == (1, 1)


# The follower notification --------------------------------------------------------------------


def _new_version(model: Model, *, nsfw_level: int = NsfwLevel.PG) -> ModelVersion:
    """A draft version, never published, with a checked file: ready for version_publish."""
    version = VersionFactory(
        model=model, status=Status.DRAFT, published_at=None, nsfw_level=nsfw_level
    )
    FileFactory(version=version)
    return version


def _published_version(model: Model, *, nsfw_level: int = NsfwLevel.PG) -> ModelVersion:
    return VersionFactory(model=model, status=Status.PUBLISHED, nsfw_level=nsfw_level)


def test_version_publish_enqueues_the_notification_only_after_commit(
    owner, django_capture_on_commit_callbacks, monkeypatch
):
    sent: list[int] = []
    monkeypatch.setattr(tasks.followers_notify_new_version, "delay", sent.append)
    version = _new_version(published_model(owner=owner))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with transaction.atomic():
            version_publish(version=version)
        assert sent == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    assert sent == [version.pk]


def test_republishing_a_version_does_not_tell_followers_again(
    owner, django_capture_on_commit_callbacks, monkeypatch
):
    sent: list[int] = []
    monkeypatch.setattr(tasks.followers_notify_new_version, "delay", sent.append)
    version = _new_version(published_model(owner=owner))
    with django_capture_on_commit_callbacks(execute=True):
        version_publish(version=version)
    ModelVersion.objects.filter(pk=version.pk).update(status=Status.UNPUBLISHED)
    version.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        version_publish(version=version)  # a moderator brings it back
    assert sent == [version.pk]


def test_publishing_tells_followers_end_to_end(owner, stranger, django_capture_on_commit_callbacks):
    services.follow_set(follower=stranger, creator=owner, on=True)
    version = _new_version(published_model(owner=owner))
    with django_capture_on_commit_callbacks(execute=True):  # the eager task runs here
        version_publish(version=version)
    told = Notification.objects.get(user=stranger)
    assert told.kind == Notification.Kind.NEW_VERSION
    assert told.version == version
    assert f"?version={version.pk}" in told.url


def test_each_active_follower_is_told_once_however_often_the_task_runs(owner):
    followers = [UserFactory() for _ in range(3)]
    for follower in followers:
        services.follow_set(follower=follower, creator=owner, on=True)
    bystander = UserFactory()
    version = _published_version(published_model(owner=owner))
    assert services.followers_notify_new_version(version_id=version.pk) == 3
    assert services.followers_notify_new_version(version_id=version.pk) == 0
    tasks.followers_notify_new_version(version.pk)  # the task, as a worker would call it
    for follower in followers:
        assert Notification.objects.filter(user=follower, version=version).count() == 1
    assert not Notification.objects.filter(user__in=[owner, bystander]).exists()


def test_followers_below_the_versions_rating_and_closed_accounts_are_not_told(owner):
    pg_only = UserFactory(browsing_level=NsfwLevel.PG)
    pg_blur = UserFactory(browsing_level=NsfwLevel.PG, above_level=User.AboveLevel.BLUR)
    sees_r = UserFactory(browsing_level=NsfwLevel.PG | NsfwLevel.PG13 | NsfwLevel.R)
    banned = UserFactory(browsing_level=NsfwLevel.PG | NsfwLevel.R, is_active=False)
    for follower in (pg_only, pg_blur, sees_r, banned):
        Follow.objects.create(follower=follower, creator=owner)
    version = _published_version(published_model(owner=owner), nsfw_level=NsfwLevel.R)
    assert services.followers_notify_new_version(version_id=version.pk) == 1
    assert list(Notification.objects.values_list("user", flat=True)) == [sees_r.pk]


@pytest.mark.parametrize(
    ("model_status", "version_status"),
    [
        (Status.PUBLISHED, Status.DRAFT),
        (Status.PUBLISHED, Status.BLOCKED),
        (Status.BLOCKED, Status.PUBLISHED),
        (Status.UNPUBLISHED, Status.PUBLISHED),
    ],
)
def test_nobody_is_told_of_a_version_that_is_not_public(
    owner, stranger, model_status, version_status
):
    Follow.objects.create(follower=stranger, creator=owner)
    model = published_model(owner=owner, status=model_status)
    version = VersionFactory(model=model, status=version_status)
    assert services.followers_notify_new_version(version_id=version.pk) == 0
    assert not Notification.objects.exists()


def test_the_task_returns_quietly_when_the_version_is_gone():
    tasks.followers_notify_new_version(987654)
    assert not Notification.objects.exists()


# Reviews --------------------------------------------------------------------------------------


def test_a_review_changed_from_up_to_down_moves_the_thumbs(owner, stranger):
    model = published_model(owner=owner)
    version = model.versions.get()
    services.review_save(author=stranger, version=version, recommended=True, text="nice")
    assert_review_counts(model)
    assert model.thumbs_up_count == 1
    services.review_save(author=stranger, version=version, recommended=False, text="meh")
    assert_review_counts(model)
    assert (model.thumbs_up_count, model.thumbs_down_count) == (0, 1)
    assert Review.objects.get().text == "meh"


def test_the_same_review_sent_twice_is_one_review(owner, stranger):
    model = published_model(owner=owner)
    version = model.versions.get()
    for _ in range(2):
        services.review_save(author=stranger, version=version, recommended=True, text="")
    assert Review.objects.count() == 1
    assert_review_counts(model)
    assert model.thumbs_up_count == 1


def test_a_review_racing_its_twin_becomes_an_edit(owner, stranger, monkeypatch):
    model = published_model(owner=owner)
    version = model.versions.get()
    services.review_save(author=stranger, version=version, recommended=True, text="first")
    # The twin request looked before the first one's row was committed: it saw no review,
    # its INSERT then meets the unique constraint.
    real = Review.objects.select_for_update
    calls = []

    def late_lookup(*args, **kwargs):
        calls.append(1)
        return Review.objects.none() if len(calls) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(Review.objects, "select_for_update", late_lookup)
    review = services.review_save(author=stranger, version=version, recommended=False, text="2nd")
    assert len(calls) == 2  # the IntegrityError path ran
    assert Review.objects.count() == 1
    assert (review.recommended, review.text) == (False, "2nd")
    assert_review_counts(model)
    assert (model.thumbs_up_count, model.thumbs_down_count) == (0, 1)


def test_reviews_of_two_versions_add_up_on_the_model(owner, stranger, staff):
    model = published_model(owner=owner)
    first = model.versions.get()
    second = _published_version(model)
    services.review_save(author=stranger, version=first, recommended=True, text="")
    services.review_save(author=stranger, version=second, recommended=False, text="")
    services.review_save(author=staff, version=second, recommended=True, text="")
    assert_review_counts(model)
    assert (model.thumbs_up_count, model.thumbs_down_count) == (2, 1)


def test_deleting_a_review_takes_its_thumb_away(owner, stranger):
    model = published_model(owner=owner)
    version = model.versions.get()
    services.review_save(author=stranger, version=version, recommended=False, text="")
    assert services.review_delete(author=stranger, version=version) is True
    assert services.review_delete(author=stranger, version=version) is False
    assert not Review.objects.exists()
    assert_review_counts(model)
    assert model.thumbs_down_count == 0


def test_hidden_reviews_leave_the_counts_and_come_back_when_shown(owner, stranger):
    model = published_model(owner=owner)
    version = model.versions.get()
    review = services.review_save(author=stranger, version=version, recommended=True, text="")
    services.review_hide(review_id=review.pk)
    services.review_hide(review_id=review.pk)  # twice: no second change
    assert_review_counts(model)
    assert model.thumbs_up_count == 0
    # Its author edits it while hidden: still not counted.
    services.review_save(author=stranger, version=version, recommended=False, text="edit")
    assert_review_counts(model)
    assert model.thumbs_down_count == 0
    services.review_hide(review_id=review.pk, hidden=False)
    assert_review_counts(model)
    assert (model.thumbs_up_count, model.thumbs_down_count) == (0, 1)
    # Deleting a hidden review does not count it down a second time.
    services.review_hide(review_id=review.pk)
    services.review_delete(author=stranger, version=version)
    assert_review_counts(model)


def test_reviewing_your_own_model_is_refused(owner):
    version = published_model(owner=owner).versions.get()
    with pytest.raises(ActionRefused):
        services.review_save(author=owner, version=version, recommended=True, text="")
    assert not Review.objects.exists()


def test_an_overlong_review_is_refused(owner, stranger):
    version = published_model(owner=owner).versions.get()
    with pytest.raises(ActionRefused):
        services.review_save(author=stranger, version=version, recommended=True, text="x" * 5001)
    assert not Review.objects.exists()


# Comments -------------------------------------------------------------------------------------


def test_comment_counts_follow_posting_deleting_and_hiding(owner, stranger, staff):
    model = published_model(owner=owner)
    first = services.comment_create(author=stranger, body="hello", model=model)
    reply = services.comment_create(author=owner, body="thanks", model=model, parent=first)
    other = services.comment_create(author=staff, body="nice", model=model)
    assert_comment_counts(model=model)
    assert model.comment_count == 3
    assert services.comment_delete(comment_id=reply.pk, by=owner) is True
    assert services.comment_delete(comment_id=reply.pk, by=owner) is False  # twice
    assert_comment_counts(model=model)
    services.comment_hide(comment_id=other.pk)
    services.comment_hide(comment_id=other.pk)
    assert_comment_counts(model=model)
    assert model.comment_count == 1
    services.comment_hide(comment_id=other.pk, hidden=False)
    assert_comment_counts(model=model)
    assert model.comment_count == 2
    # Hidden, then deleted by its author: counted down once only.
    services.comment_hide(comment_id=first.pk)
    services.comment_delete(comment_id=first.pk, by=stranger)
    services.comment_hide(comment_id=first.pk, hidden=False)  # a deleted comment stays gone
    assert_comment_counts(model=model)
    assert model.comment_count == 1


def test_comments_on_an_image_count_on_the_image(owner, stranger):
    image = published_model(owner=owner).cover_image
    comment = services.comment_create(author=stranger, body="wow", image=image)
    services.comment_create(author=owner, body="ty", image=image, parent=comment)
    assert_comment_counts(image=image)
    assert image.comment_count == 2
    assert_comment_counts(model=image.version.model)  # the model's count is its own


def test_only_the_author_or_staff_delete_a_comment(owner, stranger, staff):
    model = published_model(owner=owner)
    comment = services.comment_create(author=stranger, body="hello", model=model)
    assert services.comment_delete(comment_id=comment.pk, by=owner) is False
    comment.refresh_from_db()
    assert not comment.deleted and comment.body == "hello"
    assert services.comment_delete(comment_id=comment.pk, by=staff) is True
    comment.refresh_from_db()
    assert comment.deleted and comment.body == ""


def test_a_reply_to_a_comment_on_another_model_is_refused(owner, stranger):
    model, elsewhere = published_model(owner=owner), published_model(owner=owner)
    parent = services.comment_create(author=stranger, body="there", model=elsewhere)
    with pytest.raises(ActionRefused):
        services.comment_create(author=stranger, body="here", model=model, parent=parent)
    with pytest.raises(ActionRefused):
        services.comment_create(author=stranger, body="img", image=model.cover_image, parent=parent)
    assert Comment.objects.count() == 1
    assert_comment_counts(model=model)


def test_replies_to_removed_comments_and_empty_comments_are_refused(owner, stranger):
    model = published_model(owner=owner)
    removed = services.comment_create(author=stranger, body="oops", model=model)
    services.comment_delete(comment_id=removed.pk, by=stranger)
    removed.refresh_from_db()
    with pytest.raises(ActionRefused):
        services.comment_create(author=owner, body="re", model=model, parent=removed)
    with pytest.raises(ActionRefused):
        services.comment_create(author=owner, body=" \x00 ", model=model)
    with pytest.raises(ActionRefused):
        services.comment_create(author=owner, body="both", model=model, image=model.cover_image)
    assert Comment.objects.count() == 1


# Reactions ------------------------------------------------------------------------------------


def test_reacting_twice_toggles(owner, stranger):
    image = published_model(owner=owner).cover_image
    assert services.reaction_set(user=stranger, image=image, kind="heart") is True
    assert_reaction_counts(image)
    assert image.heart_count == 1
    assert services.reaction_set(user=stranger, image=image, kind="heart") is False
    assert_reaction_counts(image)
    assert image.heart_count == 0


def test_a_reaction_sent_twice_with_on_counts_once(owner, stranger):
    image = published_model(owner=owner).cover_image
    for _ in range(2):
        assert services.reaction_set(user=stranger, image=image, kind="like", on=True) is True
    assert Reaction.objects.count() == 1
    assert_reaction_counts(image)
    assert image.like_count == 1
    for _ in range(2):
        assert services.reaction_set(user=stranger, image=image, kind="like", on=False) is False
    assert_reaction_counts(image)
    assert image.like_count == 0


def test_a_reaction_race_where_the_row_appeared_first_is_not_counted_again(owner, stranger):
    image = published_model(owner=owner).cover_image
    Reaction.objects.create(user=stranger, image=image, kind="cry")
    GalleryImage.objects.filter(pk=image.pk).update(cry_count=1)
    assert services.reaction_set(user=stranger, image=image, kind="cry", on=True) is True
    assert_reaction_counts(image)
    assert image.cry_count == 1


def test_each_kind_of_reaction_has_its_own_count(owner, stranger, staff):
    image = published_model(owner=owner).cover_image
    for kind in ("like", "heart", "laugh", "cry"):
        services.reaction_set(user=stranger, image=image, kind=kind)
    services.reaction_set(user=staff, image=image, kind="laugh")
    services.reaction_set(user=stranger, image=image, kind="like")  # taken back
    assert_reaction_counts(image)
    assert (image.like_count, image.heart_count, image.laugh_count, image.cry_count) == (
        0,
        1,
        2,
        1,
    )


def test_an_unknown_reaction_is_refused(owner, stranger):
    image = published_model(owner=owner).cover_image
    with pytest.raises(ActionRefused):
        services.reaction_set(user=stranger, image=image, kind="angry")
    assert not Reaction.objects.exists()


# Favourites ---------------------------------------------------------------------------------


def test_favourites_toggle_and_double_submit(owner, stranger, staff):
    model = published_model(owner=owner)
    assert services.favorite_set(user=stranger, model=model) is True
    assert services.favorite_set(user=staff, model=model, on=True) is True
    assert services.favorite_set(user=staff, model=model, on=True) is True
    assert_favorite_count(model)
    assert model.like_count == 2
    assert services.favorite_set(user=stranger, model=model) is False
    assert services.favorite_set(user=stranger, model=model, on=False) is False
    assert_favorite_count(model)
    assert model.like_count == 1


def test_a_favourite_race_where_the_row_appeared_first_is_not_counted_again(owner, stranger):
    model = published_model(owner=owner)
    Favorite.objects.create(user=stranger, model=model)
    Model.objects.filter(pk=model.pk).update(like_count=1)
    assert services.favorite_set(user=stranger, model=model, on=True) is True
    assert_favorite_count(model)
    assert model.like_count == 1


# Collections --------------------------------------------------------------------------------


def test_collection_names_are_unique_per_owner(owner, stranger):
    mine = services.collection_create(owner=owner, name="Styles")
    services.collection_create(owner=stranger, name="Styles")  # someone else's: fine
    with pytest.raises(ActionRefused):
        services.collection_create(owner=owner, name="  Styles ")
    other = services.collection_create(owner=owner, name="Other", is_public=False)
    with pytest.raises(ActionRefused):
        services.collection_update(collection=other, name="Styles", description="", is_public=True)
    assert Collection.objects.filter(owner=owner).count() == 2
    assert not Collection.objects.get(pk=other.pk).is_public
    assert mine.name == "Styles"


def test_a_collection_needs_a_name(owner):
    with pytest.raises(ActionRefused):
        services.collection_create(owner=owner, name="  ")
    assert not Collection.objects.exists()


def test_collection_items_toggle_and_never_duplicate(owner, stranger):
    model = published_model(owner=owner)
    collection = services.collection_create(owner=stranger, name="Faves")
    assert services.collection_item_set(collection=collection, model=model, on=True) is True
    assert services.collection_item_set(collection=collection, model=model, on=True) is True
    assert CollectionItem.objects.count() == 1
    assert services.collection_item_set(collection=collection, model=model) is False
    assert not CollectionItem.objects.exists()
    assert services.collection_item_set(collection=collection, model=model) is True
    assert CollectionItem.objects.count() == 1


# Profiles and preferences ------------------------------------------------------------------


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc"  # Make
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}  # GPS IFD
    picture = Image.new("RGB", (640, 400), (200, 40, 40))
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_jpeg_with_gps_is_stored_as_a_small_webp_without_exif(owner, settings):
    assert Image.open(io.BytesIO(jpeg_with_gps())).getexif().get_ifd(0x8825)  # it has GPS
    upload = SimpleUploadedFile("me.jpg", jpeg_with_gps(), content_type="image/jpeg")
    services.profile_update(user=owner, bio="hi", links=[], avatar=upload)
    owner.refresh_from_db()
    assert owner.avatar.name.startswith("avatars/") and owner.avatar.name.endswith(".webp")
    stored = (settings.MEDIA_ROOT / owner.avatar.name).read_bytes()
    picture = Image.open(io.BytesIO(stored))
    assert picture.format == "WEBP"
    assert picture.size == (256, 256)
    assert not picture.getexif()
    assert "exif" not in picture.info and "xmp" not in picture.info
    assert b"SpyCam" not in stored and b"Exif" not in stored


def test_a_new_avatar_replaces_the_old_file_after_commit(
    owner, settings, django_capture_on_commit_callbacks
):
    first = SimpleUploadedFile("a.jpg", jpeg_with_gps())
    services.profile_update(user=owner, bio="", links=[], avatar=first)
    old = owner.avatar.name
    with django_capture_on_commit_callbacks(execute=True):
        services.profile_update(
            user=owner, bio="", links=[], avatar=SimpleUploadedFile("b.jpg", jpeg_with_gps())
        )
    owner.refresh_from_db()
    assert owner.avatar.name != old
    assert (settings.MEDIA_ROOT / owner.avatar.name).exists()
    assert not (settings.MEDIA_ROOT / old).exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.profile_update(user=owner, bio="", links=[], remove_avatar=True)
    owner.refresh_from_db()
    assert not owner.avatar
    assert not list((settings.MEDIA_ROOT / "avatars").iterdir())


def test_a_transparent_palette_png_keeps_its_transparency(owner, settings):
    picture = Image.new("P", (64, 64), 1)
    picture.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    for x in range(32):
        for y in range(64):
            picture.putpixel((x, y), 0)  # the left half: palette entry 0, transparent
    out = io.BytesIO()
    picture.save(out, "PNG", transparency=0)
    upload = SimpleUploadedFile("t.png", out.getvalue())
    services.profile_update(user=owner, bio="", links=[], avatar=upload)
    stored = Image.open(settings.MEDIA_ROOT / owner.avatar.name)
    assert stored.mode == "RGBA"
    assert stored.getpixel((10, 128))[3] == 0
    red, green, _blue, alpha = stored.getpixel((245, 128))
    assert (red > 240, green < 16, alpha) == (True, True, 255)  # lossy WebP: about red


@pytest.mark.parametrize(
    ("links", "avatar"),
    [
        ([f"https://example.com/{n}" for n in range(6)], None),
        (["javascript:alert(1)"], None),
        (["https://ok.example", "data:text/html,hi"], None),
        ([], b"<html>not an image</html>"),
    ],
    ids=["six links", "javascript link", "data link", "not an image"],
)
def test_a_refused_profile_edit_changes_nothing(owner, settings, links, avatar):
    User.objects.filter(pk=owner.pk).update(bio="before", links=["https://before.example"])
    owner.refresh_from_db()
    upload = SimpleUploadedFile("x.jpg", avatar) if avatar else None
    with pytest.raises(ProfileRefused):
        services.profile_update(user=owner, bio="after", links=links, avatar=upload)
    owner.refresh_from_db()
    assert owner.bio == "before"
    assert owner.links == ["https://before.example"]
    assert not owner.avatar
    assert not (settings.MEDIA_ROOT / "avatars").exists() or not list(
        (settings.MEDIA_ROOT / "avatars").iterdir()
    )


def test_five_links_are_kept_in_order_and_blank_lines_and_repeats_dropped(owner):
    links = [f"https://example.com/{n}" for n in range(5)]
    services.profile_update(user=owner, bio="", links=[links[0], "", *links, " "], avatar=None)
    owner.refresh_from_db()
    assert owner.links == links


def test_browsing_preferences_always_include_pg_and_never_blocked(owner):
    services.browsing_preferences_update(
        user=owner, levels=NsfwLevel.R | NsfwLevel.BLOCKED, above_level="blur"
    )
    owner.refresh_from_db()
    assert owner.browsing_level == NsfwLevel.PG | NsfwLevel.R
    assert owner.above_level == User.AboveLevel.BLUR
    services.browsing_preferences_update(user=owner, levels=0, above_level="show-everything")
    owner.refresh_from_db()
    assert owner.browsing_level == NsfwLevel.PG
    assert owner.above_level == User.AboveLevel.HIDE
