"""Community pages: each for anonymous visitors, the owner, a stranger and staff, and the
wrong method; the toggles' JSON; who sees what once moderation hides content; the browsing
level (blur or hide); sanitised text; query counts that do not grow with the rows."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from community import services
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
from community.selectors import THREADS_PER_PAGE
from models_hub.choices import NsfwLevel, Status
from models_hub.demo import make_image
from models_hub.models import GalleryImage, Model, ModelVersion
from tests.factories import ImageFactory, UserFactory, VersionFactory, published_model

pytestmark = pytest.mark.django_db

PEOPLE = ["anon", "owner", "stranger", "staff"]
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def people(owner, stranger, staff):
    return {"anon": None, "owner": owner, "stranger": stranger, "staff": staff}


@pytest.fixture
def world(owner, stranger):
    """The owner's published model with its image, a public and a private collection of the
    owner's, and a stranger's comment on the model."""
    model = published_model(owner=owner, name="Velvet Zebra")
    public = services.collection_create(owner=owner, name="Public picks")
    private = services.collection_create(owner=owner, name="Secret picks", is_public=False)
    services.collection_item_set(collection=public, model=model, on=True)
    services.collection_item_set(collection=private, model=model, on=True)
    comment = services.comment_create(author=stranger, body="hello there", model=model)
    return SimpleNamespace(
        model=model,
        version=model.versions.get(),
        image=model.cover_image,
        public=public,
        private=private,
        comment=comment,
    )


def _is_login_redirect(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


# Each page, each person ------------------------------------------------------------------------

SIGNED_IN_ONLY = {"anon": "login", "owner": 200, "stranger": 200, "staff": 200}
EVERYONE = dict.fromkeys(PEOPLE, 200)
PAGES = {
    "profile": (lambda w: "/u/owner/", EVERYONE),
    "feed": (lambda w: "/feed/", SIGNED_IN_ONLY),
    "profile edit": (lambda w: "/accounts/profile/", SIGNED_IN_ONLY),
    "browsing": (lambda w: "/accounts/browsing/", SIGNED_IN_ONLY),
    "favourites": (lambda w: "/accounts/favorites/", SIGNED_IN_ONLY),
    "notifications": (lambda w: "/accounts/notifications/", SIGNED_IN_ONLY),
    "collections": (lambda w: "/collections/", SIGNED_IN_ONLY),
    "password change": (lambda w: "/accounts/password/", SIGNED_IN_ONLY),
    "password reset": (lambda w: "/accounts/password-reset/", EVERYONE),
    "public collection": (lambda w: f"/collections/{w.public.pk}/", EVERYONE),
    "private collection": (
        lambda w: f"/collections/{w.private.pk}/",
        {"anon": 404, "owner": 200, "stranger": 404, "staff": 404},
    ),
    "image": (lambda w: f"/images/{w.image.pk}/", EVERYONE),
    "model": (lambda w: w.model.get_absolute_url(), EVERYONE),
}


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize("person", PEOPLE)
def test_each_page_for_each_person(page, person, people, world, client_for):
    path, expected = PAGES[page]
    response = client_for(people[person]).get(path(world))
    if expected[person] == "login":
        assert _is_login_redirect(response)
    else:
        assert response.status_code == expected[person]


@pytest.mark.parametrize(
    "path",
    [
        "/u/owner/",
        "/feed/",
        "/accounts/favorites/",
        "/images/{image}/",
        "/collections/{public}/",
    ],
)
def test_read_only_pages_refuse_a_post(path, world, client_for, stranger):
    url = path.format(image=world.image.pk, public=world.public.pk)
    assert client_for(stranger).post(url).status_code == 405


POST_ONLY = {
    "follow": lambda w: "/u/owner/follow",
    "favourite": lambda w: f"/models/{w.model.pk}/favorite",
    "collect": lambda w: f"/models/{w.model.pk}/collect",
    "collection edit": lambda w: f"/collections/{w.public.pk}/edit",
    "review": lambda w: f"/model-versions/{w.version.pk}/review",
    "react": lambda w: f"/images/{w.image.pk}/react",
    "model comment": lambda w: f"/models/{w.model.pk}/comments",
    "image comment": lambda w: f"/images/{w.image.pk}/comments",
    "comment delete": lambda w: f"/comments/{w.comment.pk}/delete",
}


def _social_rows() -> tuple[int, ...]:
    return tuple(
        kind.objects.count()
        for kind in (Follow, Favorite, CollectionItem, Collection, Review, Reaction, Comment)
    )


@pytest.mark.parametrize("endpoint", list(POST_ONLY))
@pytest.mark.parametrize("person", ["owner", "stranger", "staff"])
def test_get_on_a_post_only_endpoint_is_405(endpoint, person, people, world, client_for):
    before = _social_rows()
    assert client_for(people[person]).get(POST_ONLY[endpoint](world)).status_code == 405
    assert _social_rows() == before


@pytest.mark.parametrize("endpoint", list(POST_ONLY))
def test_anonymous_post_is_sent_to_sign_in_and_changes_nothing(endpoint, world, client):
    before = _social_rows()
    data = {"on": "1", "kind": "like", "body": "hi", "recommended": "1", "name": "x"}
    data["collection"] = world.public.pk
    assert _is_login_redirect(client.post(POST_ONLY[endpoint](world), data, **JSON))
    assert _social_rows() == before
    assert not Comment.objects.get(pk=world.comment.pk).deleted


# Toggles, with and without JSON ----------------------------------------------------------------


def test_favourite_toggle_answers_json_and_counts_once(world, client_for, stranger):
    c = client_for(stranger)
    url = f"/models/{world.model.pk}/favorite"
    for _ in range(2):  # a double click on "favourite"
        response = c.post(url, {"on": "1"}, **JSON)
        assert response.status_code == 200
        assert response.json() == {"on": True, "count": 1}
    assert c.post(url, **JSON).json() == {"on": False, "count": 0}  # no `on`: toggles
    response = c.post(url, {"on": "1", "next": "/collections/"})
    assert response.status_code == 302 and response["Location"] == "/collections/"
    world.model.refresh_from_db()
    assert world.model.like_count == Favorite.objects.count() == 1


def test_a_next_to_another_site_is_ignored(world, client_for, stranger):
    url = f"/models/{world.model.pk}/favorite"
    response = client_for(stranger).post(url, {"next": "https://evil.example/"})
    assert response["Location"] == world.model.get_absolute_url()


def test_follow_toggle_answers_json_and_counts_once(world, client_for, owner, stranger):
    c = client_for(stranger)
    followed = {"on": True, "count": 1, "count_label": "1 follower"}
    for _ in range(2):
        assert c.post("/u/owner/follow", {"on": "1"}, **JSON).json() == followed
    unfollowed = {"on": False, "count": 0, "count_label": "0 followers"}
    assert c.post("/u/owner/follow", **JSON).json() == unfollowed
    response = c.post("/u/owner/follow", {"on": "1"})
    assert response.status_code == 302 and response["Location"] == "/u/owner/"
    owner.refresh_from_db()
    assert owner.follower_count == Follow.objects.count() == 1


def test_following_yourself_is_a_400_with_the_reason(client_for, owner):
    response = client_for(owner).post("/u/owner/follow", {"on": "1"}, **JSON)
    assert response.status_code == 400
    assert "yourself" in response.json()["error"]
    assert not Follow.objects.exists()


def test_a_banned_member_cannot_be_followed_and_their_profile_is_gone(client_for, stranger, staff):
    UserFactory(username="banned", is_active=False)
    assert client_for(stranger).post("/u/banned/follow", {"on": "1"}).status_code == 404
    assert client_for(stranger).get("/u/banned/").status_code == 404
    assert client_for(None).get("/u/banned/").status_code == 404
    assert client_for(staff).get("/u/banned/").status_code == 200
    assert not Follow.objects.exists()


def test_reaction_toggle_answers_json_and_counts_once(world, client_for, stranger):
    c = client_for(stranger)
    url = f"/images/{world.image.pk}/react"
    for _ in range(2):
        response = c.post(url, {"kind": "heart", "on": "1"}, **JSON)
        assert response.json() == {"on": True, "count": 1}
    assert c.post(url, {"kind": "laugh"}, **JSON).json() == {"on": True, "count": 1}
    assert c.post(url, {"kind": "heart"}, **JSON).json() == {"on": False, "count": 0}
    response = c.post(url, {"kind": "angry"}, **JSON)
    assert response.status_code == 400 and "error" in response.json()
    image = GalleryImage.objects.get(pk=world.image.pk)
    assert (image.heart_count, image.laugh_count) == (0, 1)
    assert list(Reaction.objects.values_list("kind", flat=True)) == ["laugh"]
    response = c.post(url, {"kind": "cry"})
    assert response.status_code == 302 and response["Location"] == f"/images/{world.image.pk}/"


def test_collect_answers_json_and_only_into_your_own_collections(world, client_for, stranger):
    c = client_for(stranger)
    mine = services.collection_create(owner=stranger, name="Mine")
    url = f"/models/{world.model.pk}/collect"
    for _ in range(2):
        assert c.post(url, {"collection": mine.pk, "on": "1"}, **JSON).json() == {"on": True}
    assert CollectionItem.objects.filter(collection=mine).count() == 1
    # Someone else's collection, or none: a 404, and nothing added to it.
    assert c.post(url, {"collection": world.public.pk, "on": "1"}).status_code == 404
    assert c.post(url, {"collection": "nope", "on": "1"}).status_code == 404
    assert CollectionItem.objects.filter(collection=world.public).count() == 1
    response = c.post(url, {"collection": mine.pk, "on": "0"}, follow=True)
    assert "Removed from Mine" in response.content.decode()
    assert not CollectionItem.objects.filter(collection=mine).exists()


@pytest.mark.parametrize("status", [Status.UNPUBLISHED, Status.BLOCKED, Status.DELETED])
def test_hidden_models_cannot_be_favourited_collected_or_commented(
    status, world, client_for, stranger
):
    Model.objects.filter(pk=world.model.pk).update(status=status)
    mine = services.collection_create(owner=stranger, name="Mine")
    c = client_for(stranger)
    before = _social_rows()
    assert c.post(f"/models/{world.model.pk}/favorite", {"on": "1"}).status_code == 404
    assert c.post(f"/models/{world.model.pk}/collect", {"collection": mine.pk}).status_code == 404
    assert c.post(f"/models/{world.model.pk}/comments", {"body": "hi"}).status_code == 404
    assert c.post(f"/images/{world.image.pk}/comments", {"body": "hi"}).status_code == 404
    assert c.post(f"/images/{world.image.pk}/react", {"kind": "like"}).status_code == 404
    review = {"recommended": "1"}
    assert c.post(f"/model-versions/{world.version.pk}/review", review).status_code == 404
    assert _social_rows() == before


# Collections ------------------------------------------------------------------------------------


def test_making_a_collection_from_a_model_page_adds_the_model(world, client_for, stranger):
    c = client_for(stranger)
    back = world.model.get_absolute_url()
    response = c.post(
        "/collections/", {"name": "Later", "is_public": "on", "model": world.model.pk, "next": back}
    )
    assert response.status_code == 302 and response["Location"] == back
    made = Collection.objects.get(owner=stranger)
    assert (made.name, made.is_public) == ("Later", True)
    assert list(made.items.values_list("model", flat=True)) == [world.model.pk]
    # The same name again: refused with a message, no second collection.
    response = c.post("/collections/", {"name": "Later"}, follow=True)
    assert "already have a collection called" in response.content.decode()
    assert Collection.objects.filter(owner=stranger).count() == 1


def test_a_collection_for_a_model_you_cannot_see_is_not_made(world, client_for, stranger):
    Model.objects.filter(pk=world.model.pk).update(status=Status.BLOCKED)
    response = client_for(stranger).post("/collections/", {"name": "X", "model": world.model.pk})
    assert response.status_code == 404
    assert not Collection.objects.filter(owner=stranger).exists()


def test_only_the_owner_edits_or_deletes_a_collection(world, client_for, owner, stranger, staff):
    url = f"/collections/{world.public.pk}/edit"
    for person in (stranger, staff):
        assert client_for(person).post(url, {"name": "Mine now"}).status_code == 404
        assert client_for(person).post(url, {"delete": "1"}).status_code == 404
    assert Collection.objects.get(pk=world.public.pk).name == "Public picks"
    response = client_for(owner).post(url, {"name": "Renamed", "description": "d"})
    assert response.status_code == 302
    edited = Collection.objects.get(pk=world.public.pk)
    assert (edited.name, edited.is_public) == ("Renamed", False)  # unticked: private now
    assert client_for(stranger).get(f"/collections/{edited.pk}/").status_code == 404
    assert client_for(owner).post(url, {"delete": "1"}).status_code == 302
    assert not Collection.objects.filter(pk=world.public.pk).exists()


@pytest.mark.parametrize("page", ["profile", "collection", "favourites"])
def test_cards_name_the_base_model_as_on_browse(page, world, client_for, owner):
    services.favorite_set(user=owner, model=world.model, on=True)
    path = {
        "profile": "/u/owner/",
        "collection": f"/collections/{world.public.pk}/",
        "favourites": "/accounts/favorites/",
    }[page]
    html = client_for(owner).get(path).content.decode()
    assert f"{world.version.base_model.name} · by owner" in html


def test_private_collections_are_listed_only_for_their_owner(world, client_for, people):
    for person, user in people.items():
        html = client_for(user).get("/u/owner/").content.decode()
        assert "Public picks" in html
        assert ("Secret picks" in html) == (person == "owner")


# Reviews and comments through the pages ------------------------------------------------------


def test_a_review_posted_changed_and_deleted_through_the_page(world, client_for, stranger):
    c = client_for(stranger)
    url = f"/model-versions/{world.version.pk}/review"
    response = c.post(url, {"recommended": "1", "text": "Lovely"})
    assert response.status_code == 302 and response["Location"].endswith("#reviews")
    c.post(url, {"recommended": "1", "text": "Lovely"})  # sent twice
    c.post(url, {"recommended": "0", "text": "Changed my mind"})
    review = Review.objects.get()
    assert (review.recommended, review.text) == (False, "Changed my mind")
    version = ModelVersion.objects.get(pk=world.version.pk)
    assert (version.thumbs_up_count, version.thumbs_down_count) == (0, 1)
    html = c.get(world.model.get_absolute_url()).content.decode()
    assert "Changed my mind" in html and "Update review" in html
    c.post(url, {"delete": "1"})
    assert not Review.objects.exists()
    version.refresh_from_db()
    assert version.thumbs_down_count == 0


def test_a_review_without_a_verdict_or_of_your_own_model_is_refused(world, client_for, owner):
    url = f"/model-versions/{world.version.pk}/review"
    response = client_for(UserFactory()).post(url, {"text": "no verdict"}, follow=True)
    assert "Choose whether you recommend it" in response.content.decode()
    response = client_for(owner).post(url, {"recommended": "1"}, follow=True)
    assert "cannot review your own model" in response.content.decode()
    assert not Review.objects.exists()


def test_comments_and_replies_through_the_page(world, client_for, owner, stranger):
    response = client_for(owner).post(
        f"/models/{world.model.pk}/comments", {"body": "Thanks!", "parent": world.comment.pk}
    )
    reply = Comment.objects.get(parent=world.comment)
    assert response["Location"] == world.model.get_absolute_url() + f"#comment-{reply.pk}"
    response = client_for(stranger).post(f"/images/{world.image.pk}/comments", {"body": "Pretty"})
    on_image = Comment.objects.get(image=world.image)
    assert response["Location"] == f"/images/{world.image.pk}/#comment-{on_image.pk}"
    html = client_for(None).get(world.model.get_absolute_url()).content.decode()
    assert "hello there" in html and "Thanks!" in html
    assert "Pretty" in client_for(None).get(f"/images/{world.image.pk}/").content.decode()
    model = Model.objects.get(pk=world.model.pk)
    assert model.comment_count == 2
    assert GalleryImage.objects.get(pk=world.image.pk).comment_count == 1


def test_a_reply_to_a_comment_on_another_model_is_refused(world, client_for, owner, stranger):
    elsewhere = published_model(owner=owner)
    url = f"/models/{elsewhere.pk}/comments"
    response = client_for(stranger).post(
        url, {"body": "sneaky", "parent": world.comment.pk}, follow=True
    )
    assert "belongs to another thread" in response.content.decode()
    response = client_for(stranger).post(
        f"/images/{world.image.pk}/comments", {"body": "sneaky", "parent": world.comment.pk}
    )
    assert response.status_code == 302
    response = client_for(stranger).post(url, {"body": "ghost", "parent": 999999})
    assert response.status_code == 302
    assert not Comment.objects.filter(body__in=["sneaky", "ghost"]).exists()
    assert Model.objects.get(pk=elsewhere.pk).comment_count == 0


def test_only_the_author_or_staff_delete_a_comment_through_the_page(
    world, client_for, owner, stranger, staff
):
    url = f"/comments/{world.comment.pk}/delete"
    assert client_for(owner).post(url).status_code == 404
    assert not Comment.objects.get(pk=world.comment.pk).deleted
    response = client_for(stranger).post(url, {"next": world.model.get_absolute_url()})
    assert response.status_code == 302
    assert Comment.objects.get(pk=world.comment.pk).deleted
    assert client_for(staff).post(url).status_code == 404  # already gone
    other = services.comment_create(author=owner, body="mine", model=world.model)
    assert client_for(staff).post(f"/comments/{other.pk}/delete").status_code == 302
    assert Model.objects.get(pk=world.model.pk).comment_count == 0


@pytest.fixture(params=["few comments", "more than a page"])
def thread_reads(request, world, owner):
    """The model page reads its threads at once when they fit on a page, and otherwise
    their outline first and then the page's comments whole: both ways must show the same."""
    if request.param == "more than a page":
        for n in range(THREADS_PER_PAGE + 5):
            services.comment_create(author=owner, body=f"later {n}", model=world.model)
    return request.param


def test_a_deleted_comment_keeps_its_place_only_while_it_has_replies(
    world, client_for, owner, thread_reads
):
    model = world.model
    lonely = services.comment_create(author=owner, body="lonely words", model=model)
    services.comment_create(author=owner, body="a reply", model=model, parent=world.comment)
    services.comment_delete(comment_id=world.comment.pk, by=world.comment.author)
    services.comment_delete(comment_id=lonely.pk, by=owner)
    html = client_for(None).get(model.get_absolute_url()).content.decode()
    assert f'id="comment-{world.comment.pk}"' in html
    assert "This comment was removed by its author." in html
    assert "hello there" not in html
    assert "a reply" in html
    assert f'id="comment-{lonely.pk}"' not in html
    assert "lonely words" not in html


def test_hidden_comments_show_only_to_their_author_and_staff(
    world, client_for, people, thread_reads
):
    services.comment_hide(comment_id=world.comment.pk)
    for person, user in people.items():
        html = client_for(user).get(world.model.get_absolute_url()).content.decode()
        assert ("hello there" in html) == (person in {"stranger", "staff"})


# Sanitised text ----------------------------------------------------------------------------------

HOSTILE = (
    '<script>alert("xss1")</script> <img src=x onerror="alert(2)"> '
    '[click](javascript:alert(3)) <a href="javascript:alert(4)">y</a> still-here'
)


def _assert_sanitised(html: str) -> None:
    assert "still-here" in html  # the text was shown
    assert "<script>alert" not in html
    assert "onerror" not in html
    assert "javascript:" not in html


def test_comments_are_sanitised_on_model_and_image_pages(world, client_for, stranger):
    services.comment_create(author=stranger, body=HOSTILE, model=world.model)
    services.comment_create(author=stranger, body=HOSTILE, image=world.image)
    _assert_sanitised(client_for(None).get(world.model.get_absolute_url()).content.decode())
    _assert_sanitised(client_for(None).get(f"/images/{world.image.pk}/").content.decode())


def test_a_review_is_sanitised(world, client_for, stranger):
    services.review_save(author=stranger, version=world.version, recommended=True, text=HOSTILE)
    _assert_sanitised(client_for(None).get(world.model.get_absolute_url()).content.decode())


def test_a_bio_saved_through_the_settings_page_is_sanitised(client_for, owner):
    response = client_for(owner).post("/accounts/profile/", {"bio": HOSTILE, "links": ""})
    assert response.status_code == 302
    _assert_sanitised(client_for(None).get("/u/owner/").content.decode())


def test_a_collection_description_is_escaped(client_for, owner):
    made = services.collection_create(owner=owner, name="C", description=HOSTILE)
    html = client_for(None).get(f"/collections/{made.pk}/").content.decode()
    assert "still-here" in html
    assert "<script>alert" not in html and "<img src=x" not in html


# Profile settings ------------------------------------------------------------------------------


def _jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}
    out = io.BytesIO()
    Image.new("RGB", (300, 500), (10, 120, 200)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_an_avatar_upload_is_stored_as_a_clean_webp(client_for, owner, settings):
    upload = SimpleUploadedFile("me.jpg", _jpeg_with_gps(), content_type="image/jpeg")
    response = client_for(owner).post(
        "/accounts/profile/",
        {"bio": "I *make* LoRAs", "links": "https://example.com/me\n", "avatar": upload},
    )
    assert response.status_code == 302 and response["Location"] == "/u/owner/"
    owner.refresh_from_db()
    picture = Image.open(settings.MEDIA_ROOT / owner.avatar.name)
    assert (picture.format, picture.size) == ("WEBP", (256, 256))
    assert not picture.getexif()
    html = client_for(None).get("/u/owner/").content.decode()
    assert owner.avatar.url in html
    assert "<em>make</em>" in html
    assert 'href="https://example.com/me"' in html


def test_an_uploaded_avatar_is_served_at_its_address(client_for, owner):
    upload = SimpleUploadedFile("me.jpg", _jpeg_with_gps(), content_type="image/jpeg")
    client_for(owner).post("/accounts/profile/", {"bio": "", "links": "", "avatar": upload})
    owner.refresh_from_db()
    response = client_for(None).get(owner.avatar.url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[8:12] == b"WEBP"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"links": "\n".join(f"https://e.example/{n}" for n in range(6))}, "At most 5 links"),
        ({"links": "javascript:alert(1)"}, "is not a web address"),
        (
            {"avatar": SimpleUploadedFile("x.jpg", b"MZ\x90\x00 not a picture")},
            "not an image we can read",
        ),
        (
            {"avatar": SimpleUploadedFile("x.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")},
            "",
        ),
    ],
    ids=["six links", "javascript link", "not an image", "a gif"],
)
def test_a_refused_profile_edit_says_why_and_changes_nothing(
    client_for, owner, settings, data, message
):
    User.objects.filter(pk=owner.pk).update(bio="old bio", links=["https://old.example"])
    response = client_for(owner).post("/accounts/profile/", {"bio": "new bio", **data})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert"' in html
    assert message in html
    owner.refresh_from_db()
    assert (owner.bio, owner.links, owner.avatar.name) == ("old bio", ["https://old.example"], "")
    assert not (settings.MEDIA_ROOT / "avatars").exists() or not any(
        (settings.MEDIA_ROOT / "avatars").iterdir()
    )


def test_browsing_settings_are_saved_with_pg_always_on(client_for, stranger):
    c = client_for(stranger)
    response = c.post("/accounts/browsing/", {"levels": ["4"], "above_level": "blur"})
    assert response.status_code == 302
    stranger.refresh_from_db()
    assert stranger.browsing_level == NsfwLevel.PG | NsfwLevel.R
    assert stranger.above_level == "blur"
    form = c.get("/accounts/browsing/").context["form"]
    assert set(form.initial["levels"]) == {1, 4}


def test_notifications_are_marked_read(owner, stranger, client_for):
    Follow.objects.create(follower=stranger, creator=owner)
    version = published_model(owner=owner).versions.get()
    services.followers_notify_new_version(version_id=version.pk)
    c = client_for(stranger)
    response = c.get("/accounts/notifications/")
    assert response.context["unread_notifications"] == 1
    assert f"?version={version.pk}" in response.content.decode()
    assert c.post("/accounts/notifications/").status_code == 302
    assert not Notification.objects.filter(read_at__isnull=True).exists()


# Moderation hides content from feeds, collections, favourites and notifications ---------------

HIDINGS = ["unpublished", "blocked", "deleted", "owner banned", "version blocked"]


def _hide(how: str, model: Model, version: ModelVersion) -> None:
    if how == "owner banned":
        User.objects.filter(pk=model.owner_id).update(is_active=False)
    elif how == "version blocked":
        ModelVersion.objects.filter(pk=version.pk).update(status=Status.BLOCKED)
    else:
        Model.objects.filter(pk=model.pk).update(status=how)


def _listed(client, path: str) -> list:
    response = client.get(path)
    assert response.status_code == 200
    return list(response.context["page"].object_list)


@pytest.fixture
def followed(owner, stranger):
    """The stranger follows the owner, favourites the owner's model and was told of its
    version; a curator lists the model in a public collection; the owner has it in a
    collection and among favourites too."""
    model = published_model(owner=owner, name="Velvet Zebra")
    version = model.versions.get()
    Follow.objects.create(follower=stranger, creator=owner)
    services.favorite_set(user=stranger, model=model, on=True)
    services.favorite_set(user=owner, model=model, on=True)
    curated = services.collection_create(owner=UserFactory(username="curator"), name="Best")
    services.collection_item_set(collection=curated, model=model, on=True)
    own = services.collection_create(owner=owner, name="My work")
    services.collection_item_set(collection=own, model=model, on=True)
    services.followers_notify_new_version(version_id=version.pk)
    return SimpleNamespace(model=model, version=version, curated=curated, own=own)


@pytest.mark.parametrize("how", HIDINGS)
def test_hidden_content_leaves_feed_collections_favourites_and_notifications(
    how, followed, client_for, stranger
):
    c = client_for(stranger)
    model, version = followed.model, followed.version

    def seen() -> dict[str, bool]:
        notifications = c.get("/accounts/notifications/")
        return {
            "feed": version in _listed(c, "/feed/"),
            "collection": model in _listed(c, f"/collections/{followed.curated.pk}/"),
            "favourites": model in _listed(c, "/accounts/favorites/"),
            "notification": any(
                n.version_id == version.pk for n in notifications.context["notifications"]
            ),
            "unread badge": notifications.context["unread_notifications"] == 1,
            "name on collection page": "Velvet Zebra"
            in c.get(f"/collections/{followed.curated.pk}/").content.decode(),
        }

    assert all(seen().values())
    _hide(how, model, version)
    still = seen()
    if how == "version blocked":  # the model itself is still public
        assert still == {
            "feed": False,
            "collection": True,
            "favourites": True,
            "notification": False,
            "unread badge": False,
            "name on collection page": True,
        }
    else:
        assert not any(still.values()), still


@pytest.mark.parametrize("how", ["unpublished", "blocked", "version blocked"])
def test_the_owner_still_sees_their_hidden_content(how, followed, client_for, owner):
    _hide(how, followed.model, followed.version)
    c = client_for(owner)
    assert followed.model in _listed(c, "/u/owner/")
    assert followed.model in _listed(c, f"/collections/{followed.own.pk}/")
    assert followed.model in _listed(c, f"/collections/{followed.curated.pk}/")
    assert followed.model in _listed(c, "/accounts/favorites/")
    assert c.get(followed.model.get_absolute_url()).status_code == 200


def test_a_deleted_model_is_gone_for_its_owner_too(followed, client_for, owner):
    _hide("deleted", followed.model, followed.version)
    c = client_for(owner)
    assert followed.model not in _listed(c, "/u/owner/")
    assert followed.model not in _listed(c, "/accounts/favorites/")


def test_staff_following_a_creator_still_see_what_moderation_hid(
    followed, client_for, owner, staff
):
    Follow.objects.create(follower=staff, creator=owner)
    services.followers_notify_new_version(version_id=followed.version.pk)
    _hide("blocked", followed.model, followed.version)
    c = client_for(staff)
    assert followed.version in _listed(c, "/feed/")
    notifications = c.get("/accounts/notifications/").context["notifications"]
    assert [n.version_id for n in notifications] == [followed.version.pk]


def test_a_banned_owners_collections_are_gone(followed, client_for, owner, stranger):
    User.objects.filter(pk=followed.curated.owner_id).update(is_active=False)
    assert client_for(stranger).get(f"/collections/{followed.curated.pk}/").status_code == 404


# The browsing level: blur or hide what is rated above it ---------------------------------------


@pytest.fixture
def rated_r(owner, settings):
    """The owner's R-rated model whose image (and thumbnail) exist on disk."""
    model = published_model(owner=owner, name="Crimson Tide", nsfw_level=NsfwLevel.R)
    version = model.versions.get()
    ModelVersion.objects.filter(pk=version.pk).update(nsfw_level=NsfwLevel.R)
    image = model.cover_image
    image.nsfw_level = NsfwLevel.R
    image.generation_params = {"prompt": "explicit-prompt-words", "seed": 42}
    image.save(update_fields=["nsfw_level", "generation_params"])
    for name in (image.image.name, image.thumbnail.name):
        path = settings.MEDIA_ROOT / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make_image(seed=3, size=(16, 16)))
    return SimpleNamespace(model=model, version=version, image=image)


def _viewer(above: str, levels: int = NsfwLevel.PG) -> User:
    return UserFactory(
        username=f"viewer-{above}-{levels}", browsing_level=levels, above_level=above
    )


def _media_urls(image: GalleryImage) -> list[str]:
    return [image.image.url, image.thumbnail.url]


CARD_PAGES = {
    "browse": lambda r, viewer: "/",
    "profile": lambda r, viewer: "/u/owner/",
    "collection": lambda r, viewer: f"/collections/{_collection_with(viewer, r.model).pk}/",
    "favourites": lambda r, viewer: _favourite(viewer, r.model) or "/accounts/favorites/",
}


def _collection_with(person: User, model: Model) -> Collection:
    made = services.collection_create(owner=person, name="Looked at")
    services.collection_item_set(collection=made, model=model, on=True)
    return made


def _favourite(person: User, model: Model) -> None:
    services.favorite_set(user=person, model=model, on=True)


@pytest.mark.parametrize("page", list(CARD_PAGES))
def test_blur_mode_lists_an_r_model_as_a_placeholder_without_its_picture(page, rated_r, client_for):
    viewer = _viewer("blur")
    c = client_for(viewer)
    html = c.get(CARD_PAGES[page](rated_r, viewer)).content.decode()
    assert "Crimson Tide" in html
    assert 'class="blurred' in html
    for url in _media_urls(rated_r.image):
        assert url not in html
        assert c.get(url).status_code == 404  # nor can it be fetched directly


@pytest.mark.parametrize("page", list(CARD_PAGES))
def test_hide_mode_and_anonymous_visitors_do_not_list_an_r_model(page, rated_r, client_for):
    viewer = _viewer("hide")
    html = client_for(viewer).get(CARD_PAGES[page](rated_r, viewer)).content.decode()
    assert "Crimson Tide" not in html
    if page in {"browse", "profile"}:
        anonymous = client_for(None).get(CARD_PAGES[page](rated_r, None))
        assert "Crimson Tide" not in anonymous.content.decode()


def test_a_viewer_who_chose_r_sees_the_picture(rated_r, client_for):
    c = client_for(_viewer("hide", NsfwLevel.PG | NsfwLevel.R))
    html = c.get("/").content.decode()
    assert rated_r.image.display_url in html
    assert c.get(rated_r.image.display_url).status_code == 200
    html = c.get(f"/images/{rated_r.image.pk}/").content.decode()
    assert rated_r.image.image.url in html and "explicit-prompt-words" in html


def test_blur_mode_image_page_shows_the_placeholder_only(rated_r, client_for):
    c = client_for(_viewer("blur"))
    response = c.get(f"/images/{rated_r.image.pk}/")
    assert response.status_code == 200
    assert response.context["p"].blurred
    html = response.content.decode()
    assert 'class="blurred large"' in html
    for url in _media_urls(rated_r.image):
        assert url not in html
    assert "explicit-prompt-words" not in html  # nor its prompt, in text or "copy all"


@pytest.mark.parametrize("who", ["hide", "anon"])
def test_hide_mode_and_anonymous_visitors_get_a_404_for_an_r_image(who, rated_r, client_for):
    c = client_for(None if who == "anon" else _viewer("hide"))
    assert c.get(f"/images/{rated_r.image.pk}/").status_code == 404
    assert c.post(f"/images/{rated_r.image.pk}/react", {"kind": "like"}).status_code in (302, 404)
    for url in _media_urls(rated_r.image):
        assert c.get(url).status_code == 404


def test_the_owner_sees_their_own_r_image_at_pg(rated_r, client_for, owner):
    c = client_for(owner)
    response = c.get(f"/images/{rated_r.image.pk}/")
    assert response.status_code == 200 and not response.context["p"].blurred
    assert c.get(rated_r.image.display_url).status_code == 200


@pytest.mark.parametrize("above", ["blur", "hide"])
def test_the_feed_honours_the_browsing_level(above, rated_r, client_for, owner):
    viewer = _viewer(above)
    Follow.objects.create(follower=viewer, creator=owner)
    html = client_for(viewer).get("/feed/").content.decode()
    assert ("Crimson Tide" in html) == (above == "blur")
    for url in _media_urls(rated_r.image):
        assert url not in html
    if above == "blur":
        assert 'class="blurred' in html


def test_the_feed_shows_each_version_with_its_own_picture(client_for, owner, stranger):
    """Not the model's cover, which is its newest version's: an older version in the feed
    shows one of its own images, the mildest first."""
    Follow.objects.create(follower=stranger, creator=owner)
    model = published_model(owner=owner, name="Two Versions")
    first = model.versions.get()
    first.images.update(nsfw_level=NsfwLevel.R, position=0)  # the factory's cover
    first_r = ImageFactory(version=first, nsfw_level=NsfwLevel.R, position=0)
    first_pg = ImageFactory(version=first, nsfw_level=NsfwLevel.PG, position=1)
    second = VersionFactory(model=model, status=Status.PUBLISHED)
    second_pg = ImageFactory(version=second, nsfw_level=NsfwLevel.PG)
    Model.objects.filter(pk=model.pk).update(cover_image=second_pg)
    items = client_for(stranger).get("/feed/").context["page"].object_list
    covers = {version.pk: [image.pk for image in version.feed_covers] for version in items}
    assert covers[second.pk] == [second_pg.pk]
    assert covers[first.pk] == [first_pg.pk]  # not the R one (a PG viewer), not the cover
    User.objects.filter(pk=stranger.pk).update(above_level="blur")
    items = client_for(stranger).get("/feed/").context["page"].object_list
    first_covers = [v.feed_covers for v in items if v.pk == first.pk][0]
    assert [image.pk for image in first_covers] == [first_pg.pk], first_r


@pytest.mark.parametrize("above", ["blur", "hide"])
def test_the_model_gallery_honours_the_browsing_level(above, rated_r, client_for):
    viewer = _viewer(above, NsfwLevel.PG | NsfwLevel.R)  # may open the model...
    pg = ImageFactory(version=rated_r.version, nsfw_level=NsfwLevel.PG)
    User.objects.filter(pk=viewer.pk).update(browsing_level=NsfwLevel.PG)  # ...then lowers it
    html = client_for(viewer).get(rated_r.model.get_absolute_url()).content.decode()
    assert pg.display_url in html
    for url in _media_urls(rated_r.image):
        assert url not in html
    assert (f"/images/{rated_r.image.pk}/" in html) == (above == "blur")


# Query counts that do not grow with the rows --------------------------------------------------


def _queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_profile_page_queries_do_not_grow(client_for, owner, stranger):
    c = client_for(stranger)
    Follow.objects.create(follower=stranger, creator=owner)
    counts = []
    for n in (2, 8):
        while Model.objects.filter(owner=owner).count() < n:
            model = published_model(owner=owner)
            services.collection_create(owner=owner, name=f"C{model.pk}")
            ImageFactory(version=model.versions.get())
        counts.append(_queries(c, "/u/owner/"))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 13


def test_feed_queries_do_not_grow(client_for, stranger):
    c = client_for(stranger)
    counts = []
    for n in (2, 8):
        while Follow.objects.filter(follower=stranger).count() < n:
            creator = UserFactory()
            Follow.objects.create(follower=stranger, creator=creator)
            model = published_model(owner=creator)
            VersionFactory(model=model)
        counts.append(_queries(c, "/feed/"))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 7  # one of them fetches every version's own picture


def test_collection_page_queries_do_not_grow(client_for, owner, stranger):
    collection = services.collection_create(owner=owner, name="Big")
    c = client_for(stranger)
    counts = []
    for n in (2, 8):
        while collection.items.count() < n:
            model = published_model(owner=UserFactory())
            services.collection_item_set(collection=collection, model=model, on=True)
        counts.append(_queries(c, f"/collections/{collection.pk}/"))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 8


def test_image_page_queries_do_not_grow(client_for, owner, stranger):
    image = published_model(owner=owner).cover_image
    GalleryImage.objects.filter(pk=image.pk).update(
        generation_params={"prompt": "p", "Model hash": "abababab"}
    )
    services.reaction_set(user=stranger, image=image, kind="like")
    c = client_for(stranger)
    counts = []
    for n in (2, 8):
        while Comment.objects.filter(parent__isnull=True).count() < n:
            author = UserFactory()
            root = services.comment_create(author=author, body="root", image=image)
            services.comment_create(author=UserFactory(), body="re", image=image, parent=root)
            services.reaction_set(user=author, image=image, kind="heart")
        counts.append(_queries(c, f"/images/{image.pk}/"))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 8


# The model page's charts -------------------------------------------------------------------------


def test_the_model_page_charts_count_its_published_versions_downloads_and_reviews(
    world, client_for, owner, people
):
    """The two charts come from one read (community.selectors.activity_by_day): each count
    must land in its own series, and a draft's downloads or a hidden review in none."""
    from django.utils import timezone

    from models_hub.models import DownloadDay

    today = timezone.localdate()
    DownloadDay.objects.create(version=world.version, day=today, count=7)
    DownloadDay.objects.create(version=world.version, day=today - timedelta(days=2), count=3)
    draft = VersionFactory(model=world.model, status=Status.DRAFT)
    DownloadDay.objects.create(version=draft, day=today, count=1000)
    for n, recommended in enumerate([True, True, False]):
        services.review_save(author=UserFactory(username=f"judge{n}"), version=world.version,
                             recommended=recommended, text="")  # fmt: skip
    hidden = services.review_save(author=UserFactory(username="judge9"), version=world.version,
                                  recommended=False, text="")  # fmt: skip
    services.review_hide(review_id=hidden.pk)
    html = client_for(None).get(world.model.get_absolute_url()).content.decode()
    assert re.search(r"Downloads per day, [^:<]+: total 10, peak 7 on", html)
    assert "Recommend: total 2, peak 2 on" in html
    assert "Don&#x27;t recommend: total 1, peak 1 on" in html
