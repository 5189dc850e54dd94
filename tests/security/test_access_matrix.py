"""Who sees what, on every path (BAD_INPUTS.md rows 34 and 35).

Every URL pattern the resolver knows is classified in ROUTES (what object it takes, how it is
called, which check below covers it): a pattern added later without an entry fails
`test_every_url_pattern_is_classified`. Content is built once for the module in every state a
model, a version and a gallery image can be in, and each case asks one path, as one kind of
person, about one state. The answers are checked against SEES, written from the product rules
(ARCHITECTURE.md, the docstring of models_hub/querysets.py), not from running the code:

- published content: everyone (PG content here; R content has its own test at the end);
- draft, in review, unpublished and blocked content: its owner and staff; everyone else gets
  a 404 (or, for what a moderator removed, the 410 notice that names only the rule);
- deleted content: staff only, not even its owner;
- a banned member's content: staff only.

"Staff" is `is_staff`. A member of the moderators group who is not `is_staff` works through the
queue (moderation/permissions.py) and sees the public site as any member does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from community import services
from community.api_keys import api_key_create
from community.models import (
    ApiKey,
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
from models_hub.models import Model, ModelVersion, ResumableUpload
from models_hub.services import model_refresh_derived
from moderation.models import ModerationAction, QueueItem, Report, Rule
from tests.factories import (
    FileFactory,
    ImageFactory,
    ModelFactory,
    TagFactory,
    UserFactory,
    VersionFactory,
)
from tests.moderation.conftest import make_moderator

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "stranger", "owner", "moderator", "staff")
SIGNED_IN = PERSONAS[1:]
EVERYONE = frozenset(PERSONAS)
OWNER_AND_STAFF = frozenset({"owner", "staff"})
STAFF = frozenset({"staff"})
# The members who follow the owner (and the banned member): the owner does not follow himself.
FOLLOWERS = frozenset({"stranger", "moderator", "staff"})
LOGIN = "/accounts/login/"

PUBLISHED, DRAFT, IN_REVIEW = Status.PUBLISHED, Status.DRAFT, Status.IN_REVIEW
UNPUBLISHED, BLOCKED, DELETED = Status.UNPUBLISHED, Status.BLOCKED, Status.DELETED


@dataclass(frozen=True)
class State:
    """How one subject of the matrix is built: its model's and version's status, and more."""

    model: str
    version: str
    # A version of the shared published model (the "host", which everyone sees).
    on_host: bool = False
    owner: str = "owner"  # "banned": a member banned after publishing
    image_level: int = NsfwLevel.PG  # BLOCKED: a moderator hid the image
    # A moderator's decision removed it once it had been public (its page is the 410 notice).
    removed: bool = False


STATES = {
    # The model and its version in the same state.
    "published": State(PUBLISHED, PUBLISHED),
    "draft": State(DRAFT, DRAFT),
    "in_review": State(IN_REVIEW, IN_REVIEW),
    "unpublished": State(UNPUBLISHED, UNPUBLISHED),
    "blocked": State(BLOCKED, BLOCKED, removed=True),
    "deleted": State(DELETED, DELETED),
    # A version in that state on a published model.
    "version_draft": State(PUBLISHED, DRAFT, on_host=True),
    "version_in_review": State(PUBLISHED, IN_REVIEW, on_host=True),
    "version_unpublished": State(PUBLISHED, UNPUBLISHED, on_host=True),
    "version_blocked": State(PUBLISHED, BLOCKED, on_host=True),
    "version_deleted": State(PUBLISHED, DELETED, on_host=True),
    # A published version under a model in that state.
    "model_draft": State(DRAFT, PUBLISHED),
    "model_in_review": State(IN_REVIEW, PUBLISHED),
    "model_unpublished": State(UNPUBLISHED, PUBLISHED),
    "model_blocked": State(BLOCKED, PUBLISHED),
    "model_deleted": State(DELETED, PUBLISHED),
    # Published, by a member banned since.
    "banned_owner": State(PUBLISHED, PUBLISHED, owner="banned"),
    # A gallery image a moderator rated BLOCKED, on the published subject's version.
    "image_blocked": State(PUBLISHED, PUBLISHED, image_level=NsfwLevel.BLOCKED),
}

# Who may see each state's model, version and gallery image: the expectations of the matrix.
SEES: dict[str, tuple[frozenset[str], frozenset[str], frozenset[str]]] = {
    #                      model            version          image
    "published":           (EVERYONE,        EVERYONE,        EVERYONE),
    "draft":               (OWNER_AND_STAFF, OWNER_AND_STAFF, OWNER_AND_STAFF),
    "in_review":           (OWNER_AND_STAFF, OWNER_AND_STAFF, OWNER_AND_STAFF),
    "unpublished":         (OWNER_AND_STAFF, OWNER_AND_STAFF, OWNER_AND_STAFF),
    "blocked":             (OWNER_AND_STAFF, OWNER_AND_STAFF, OWNER_AND_STAFF),
    "deleted":             (STAFF,           STAFF,           STAFF),
    "version_draft":       (EVERYONE,        OWNER_AND_STAFF, OWNER_AND_STAFF),
    "version_in_review":   (EVERYONE,        OWNER_AND_STAFF, OWNER_AND_STAFF),
    "version_unpublished": (EVERYONE,        OWNER_AND_STAFF, OWNER_AND_STAFF),
    "version_blocked":     (EVERYONE,        OWNER_AND_STAFF, OWNER_AND_STAFF),
    "version_deleted":     (EVERYONE,        STAFF,           STAFF),
    "model_draft":         (OWNER_AND_STAFF, OWNER_AND_STAFF, OWNER_AND_STAFF),
    "model_in_review":     (OWNER_AND_STAFF, OWNER_AND_STAFF, OWNER_AND_STAFF),
    "model_unpublished":   (OWNER_AND_STAFF, OWNER_AND_STAFF, OWNER_AND_STAFF),
    "model_blocked":       (OWNER_AND_STAFF, OWNER_AND_STAFF, OWNER_AND_STAFF),
    "model_deleted":       (STAFF,           STAFF,           STAFF),
    "banned_owner":        (STAFF,           STAFF,           STAFF),
    "image_blocked":       (EVERYONE,        EVERYONE,        OWNER_AND_STAFF),
}  # fmt: skip
LEVELS = {"model": 0, "version": 1, "image": 2}

# The states whose subject has a model, a version or an image of its own.
MODEL_STATES = tuple(s for s, spec in STATES.items() if not spec.on_host and s != "image_blocked")
VERSION_STATES = tuple(s for s in STATES if s != "image_blocked")
IMAGE_STATES = tuple(STATES)


def sees(persona: str, state: str, level: str) -> bool:
    return persona in SEES[state][LEVELS[level]]


# --- The world --------------------------------------------------------------------------------


@dataclass
class Subject:
    state: str
    model: Model
    version: ModelVersion
    file: Any
    image: Any

    @property
    def media_urls(self) -> list[str]:
        return [self.image.image.url, self.image.thumbnail.url]

    @property
    def sha256(self) -> str:
        return self.file.sha256


@dataclass
class World:
    media_root: Path
    users: dict[str, User]
    sessions: dict[str, str]
    subjects: dict[str, Subject]
    host: Model
    rated: Subject
    keys: dict[str, str] = field(default_factory=dict)
    key_rows: dict[str, ApiKey] = field(default_factory=dict)
    mine: dict[str, Collection] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def client(self, persona: str) -> Client:
        """A fresh client signed in as `persona` (the session was made once, for the module)."""
        c = Client()
        if persona != "anonymous":
            c.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[persona]
        return c

    def secrets(self, persona: str, state: str) -> list[str]:
        """What of `state`'s subject `persona` may not see, as text a response could hold."""
        s = self.subjects[state]
        hidden = []
        if not sees(persona, state, "model"):
            hidden.append(s.model.name)
        if not sees(persona, state, "version"):
            hidden.append(s.version.name)
        if not sees(persona, state, "image"):
            hidden += s.media_urls
        return hidden


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _write(root: Path, name: str, content: bytes) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def _version_and_children(world_root: Path, model: Model, state: str, status: str) -> Subject:
    never_public = status in (DRAFT, IN_REVIEW)
    version = VersionFactory(
        model=model,
        status=status,
        name=f"Version {state} qx",
        published_at=None if never_public else timezone.now(),
    )
    sha = _sha(state)
    model_file = FileFactory(
        version=version,
        file=f"models/mx/{state}.safetensors",
        name=f"{state}.safetensors",
        sha256=sha,
        autov2=sha[:10],
    )
    image = ImageFactory(
        version=version,
        image=f"images/mx/{state}.png",
        thumbnail=f"thumbs/mx/{state}.webp",
    )
    _write(world_root, model_file.file.name, f"weights of {state}".encode())
    for name in (image.image.name, image.thumbnail.name):
        _write(world_root, name, f"pixels of {name}".encode())
    return Subject(state, model, version, model_file, image)


def _build(root: Path) -> World:
    owner = UserFactory(username="mx-owner", avatar="avatars/mx/owner.webp")
    banned = UserFactory(username="mx-banned", avatar="avatars/mx/banned.webp")
    users = {
        "owner": owner,
        "stranger": UserFactory(username="mx-stranger"),
        "moderator": make_moderator("mx-moderator"),
        "staff": UserFactory(username="mx-staff", is_staff=True),
    }
    for name in ("owner", "banned"):
        _write(root, f"avatars/mx/{name}.webp", b"avatar")
    matrix = TagFactory(name="mx-matrix")

    host = ModelFactory(owner=owner, name="Model host qx")
    host.tags.add(matrix)
    host_subject = _version_and_children(root, host, "host", PUBLISHED)
    subjects: dict[str, Subject] = {}
    for state, spec in STATES.items():
        if state == "image_blocked":
            continue
        if spec.on_host:
            model = host
        else:
            model = ModelFactory(
                owner=banned if spec.owner == "banned" else owner,
                status=spec.model,
                name=f"Model {state} qx",
                published_at=None if spec.model in (DRAFT, IN_REVIEW) else timezone.now(),
            )
            model.tags.add(matrix, TagFactory(name=f"mx-tag-{state}"))
        subjects[state] = _version_and_children(root, model, state, spec.version)
    published = subjects["published"]
    hidden_image = ImageFactory(
        version=published.version,
        image="images/mx/image_blocked.png",
        thumbnail="thumbs/mx/image_blocked.webp",
        nsfw_level=NsfwLevel.BLOCKED,
        staff_nsfw_level=NsfwLevel.BLOCKED,
        position=1,
    )
    for name in (hidden_image.image.name, hidden_image.thumbnail.name):
        _write(root, name, f"pixels of {name}".encode())
    subjects["image_blocked"] = Subject(
        "image_blocked", published.model, published.version, published.file, hidden_image
    )
    # The published image names every subject's file as a resource it was made with: its page
    # lists those the visitor may see.
    published.image.generation_params = {
        "resources": [{"hash": s.sha256} for s in subjects.values()]
    }
    published.image.save(update_fields=["generation_params"])

    rated_model = ModelFactory(owner=owner, name="Model rated qx", nsfw_level=NsfwLevel.R)
    rated_model.tags.add(matrix)
    rated = _version_and_children(root, rated_model, "rated", PUBLISHED)
    ModelVersion.objects.filter(pk=rated.version.pk).update(nsfw_level=NsfwLevel.R)
    rated.image.nsfw_level = NsfwLevel.R
    rated.image.save(update_fields=["nsfw_level"])

    for model in Model.objects.all():
        model_refresh_derived(model=model)  # covers from published versions, as in production

    world = World(
        media_root=root, users=users, sessions={}, subjects=subjects, host=host, rated=rated
    )
    world.extra["host_subject"] = host_subject
    _build_social(world, banned)
    _build_moderation(world)
    _build_accounts(world)
    User.objects.filter(pk=banned.pk).update(is_active=False)
    world.users["banned"] = User.objects.get(pk=banned.pk)
    for persona, user in world.users.items():
        if persona == "banned":
            continue
        c = Client()
        c.force_login(user)
        world.sessions[persona] = c.cookies[settings.SESSION_COOKIE_NAME].value
    return world


def _build_social(world: World, banned: User) -> None:
    owner, stranger = world.users["owner"], world.users["stranger"]
    published = world.subjects["published"]
    models = {s.model.pk: s.model for s in world.subjects.values()}
    shelf = Collection.objects.create(owner=stranger, name="Shelf qx")
    for model in models.values():
        CollectionItem.objects.create(collection=shelf, model=model)
    world.extra["shelf"] = shelf
    world.extra["private_shelf"] = Collection.objects.create(
        owner=owner, name="Private shelf qx", is_public=False
    )
    world.extra["owner_shelf"] = Collection.objects.create(owner=owner, name="Owner shelf qx")
    for persona in SIGNED_IN:
        user = world.users[persona]
        world.mine[persona] = Collection.objects.create(owner=user, name=f"Mine {persona}")
        for model in models.values():
            Favorite.objects.create(user=user, model=model)
        for state, s in world.subjects.items():
            if state != "image_blocked":
                Notification.objects.create(
                    user=user, kind=Notification.Kind.NEW_VERSION, version=s.version,
                    title=f"News {state} qx", body="A new version.",
                )  # fmt: skip
        if persona in FOLLOWERS:
            Follow.objects.create(follower=user, creator=owner)
            Follow.objects.create(follower=user, creator=banned)
    # Through the services, which keep the counters the pages show.
    world.extra["owner_comment"] = services.comment_create(
        author=owner, model=published.model, body="Comment owner qx"
    )
    for target in ({"model": published.model}, {"image": published.image}):
        hidden = services.comment_create(author=stranger, body="Comment hidden qx", **target)
        services.comment_hide(comment_id=hidden.pk)
        services.comment_create(author=banned, body="Comment banned qx", **target)
    hidden_review = services.review_save(
        author=stranger, version=published.version, recommended=True, text="Review hidden qx"
    )
    services.review_hide(review_id=hidden_review.pk)
    services.review_save(
        author=banned, version=published.version, recommended=True, text="Review banned qx"
    )


def _build_moderation(world: World) -> None:
    blocked = world.subjects["blocked"]
    rule = Rule.objects.get(code="copyright-license")
    item = QueueItem.objects.create(
        source=QueueItem.Source.CHECK, rule=rule, version=blocked.version,
        reason="Queue reason qx", priority=QueueItem.Priority.HIGH,
    )  # fmt: skip
    world.extra["item"] = item
    world.extra["action"] = ModerationAction.objects.create(
        kind=ModerationAction.Kind.BLOCK, rule=rule, reason="Blocked in the matrix",
        moderator=world.users["moderator"], item=item, version=blocked.version,
        owner=world.users["owner"],
    )  # fmt: skip


def _build_accounts(world: World) -> None:
    owner = world.users["owner"]
    world.extra["upload"] = ResumableUpload.objects.create(
        owner=owner, filename="mine.safetensors", size=10
    )
    # A direct (S3) upload, complete, so that nothing asks a bucket: only /parts takes it.
    world.extra["direct_upload"] = ResumableUpload.objects.create(
        owner=owner, filename="direct.safetensors", size=10, s3_key="models/x",
        s3_upload_id="upload-id", state=ResumableUpload.State.COMPLETE, received=10,
    )  # fmt: skip
    for name, persona, scopes in [
        ("owner_read", "owner", ["read"]),
        ("owner_download", "owner", ["download"]),
        ("stranger_read", "stranger", ["read"]),
        ("stranger_download", "stranger", ["download"]),
        ("stranger_upload", "stranger", ["upload"]),
        ("moderator_moderate", "moderator", ["moderate"]),
        ("moderator_read", "moderator", ["read"]),
    ]:
        row, raw = api_key_create(user=world.users[persona], name=name, scopes=scopes)
        world.keys[name] = raw
        world.key_rows[name] = row


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The matrix's content, built once in a transaction that is rolled back at the end of
    the module; each test runs inside it (pytest-django's savepoint per test)."""
    root = tmp_path_factory.mktemp("matrix-media")
    with override_settings(MEDIA_ROOT=root, HUB_UPLOAD_DIR=root / "uploads"):
        with django_db_blocker.unblock():
            outer = transaction.atomic()
            outer.__enter__()
            try:
                built = _build(root)
            except BaseException:
                transaction.set_rollback(True)
                outer.__exit__(None, None, None)
                raise
        yield built
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _media_in_tmp(world):
    """Overrides tests/conftest.py's: the world's files stay in one folder for the module."""
    return world.media_root


# --- Every URL pattern, classified ----------------------------------------------------------


@dataclass(frozen=True)
class Route:
    takes: str  # the kind of object the URL names ("-": none)
    methods: str  # how the matrix calls it
    check: str  # which test covers it


# content: test_content_paths (who may see the object); list: test_lists (what a list
# holds); others: test_other_peoples_things; moderators: test_moderation_paths; self: pages
# about the caller only (test_own_pages); public: no object (test_public_pages); media:
# test_content_paths and test_avatars.
ROUTES: dict[str, Route] = {
    "api_schema": Route("-", "GET", "public"),
    "api_docs": Route("-", "GET", "public"),
    "set_language": Route("-", "POST", "public"),
    "login": Route("-", "GET", "public"),
    "logout": Route("-", "POST", "public"),
    "signup": Route("-", "GET", "public"),
    "password_reset": Route("-", "GET", "public"),
    "password_reset_done": Route("-", "GET", "public"),
    "password_reset_confirm": Route("reset token", "GET", "public"),
    "password_reset_complete": Route("-", "GET", "public"),
    "password_change": Route("-", "GET", "self"),
    "password_change_done": Route("-", "GET", "self"),
    "notifications": Route("-", "GET", "list"),
    "api_keys": Route("api key", "GET, POST", "others"),
    "profile_edit": Route("-", "GET", "self"),
    "browsing_settings": Route("-", "GET", "self"),
    "favorites": Route("-", "GET", "list"),
    "feed": Route("-", "GET", "list"),
    "profile": Route("user", "GET", "others"),
    "follow": Route("user", "POST", "others"),
    "collections": Route("model", "GET, POST", "content"),
    "collection": Route("collection", "GET", "others"),
    "collection_edit": Route("collection", "POST", "others"),
    "favorite": Route("model", "POST", "content"),
    "collect": Route("model", "POST", "content"),
    "review": Route("version", "POST", "content"),
    "image": Route("image", "GET", "content"),
    "react": Route("image", "POST", "content"),
    "model_comment": Route("model", "POST", "content"),
    "image_comment": Route("image", "POST", "content"),
    "comment_delete": Route("comment", "POST", "others"),
    "moderation:guidelines": Route("-", "GET", "public"),
    "moderation:transparency": Route("-", "GET", "public"),
    "moderation:report": Route("version, image, user", "GET, POST", "content"),
    "moderation:takedown": Route("-", "GET", "public"),
    "moderation:appeal": Route("moderation action", "GET", "others"),
    "moderation:queue": Route("-", "GET", "moderators"),
    "moderation:item": Route("queue item", "GET", "moderators"),
    "moderation:claim": Route("queue item", "POST", "moderators"),
    "moderation:release": Route("queue item", "POST", "moderators"),
    "moderation:act": Route("queue item", "POST", "moderators"),
    "moderation:evidence": Route("image", "GET", "moderators"),
    "moderation:api_queue": Route("-", "GET", "moderators"),
    "moderation:api_item": Route("queue item", "GET", "moderators"),
    "moderation:api_claim": Route("queue item", "POST", "moderators"),
    "moderation:api_release": Route("queue item", "POST", "moderators"),
    "moderation:api_act": Route("queue item", "POST", "moderators"),
    "models_hub:browse": Route("-", "GET", "list"),
    "models_hub:detail_short": Route("model", "GET", "content"),
    "models_hub:detail": Route("model, version", "GET", "content"),
    "models_hub:upload": Route("-", "GET", "self"),
    "models_hub:version_checks": Route("version", "GET", "content"),
    "models_hub:version_upload": Route("model", "GET", "content"),
    "models_hub:download": Route("version, file", "GET", "content"),
    "models_hub:api_models": Route("-", "GET", "list"),
    "models_hub:api_model": Route("model", "GET", "content"),
    "models_hub:api_model_versions": Route("model", "POST", "content"),
    "models_hub:api_version_publish": Route("version", "POST", "content"),
    "models_hub:api_version": Route("version", "GET", "content"),
    "models_hub:api_versions_by_hash": Route("file hash", "POST", "content"),
    "models_hub:api_version_by_hash": Route("file hash", "GET", "content"),
    "models_hub:api_images": Route("version", "GET", "list"),
    "models_hub:api_creators": Route("-", "GET", "list"),
    "models_hub:api_tags": Route("-", "GET", "list"),
    "models_hub:upload_create": Route("-", "POST", "self"),
    "models_hub:upload_detail": Route("upload", "GET, PUT, DELETE", "others"),
    "models_hub:upload_complete": Route("upload", "POST", "others"),
    "models_hub:upload_parts": Route("upload", "GET", "others"),
    "media": Route("image, thumbnail, avatar, model file", "GET", "media"),
}
# Django's admin: every view of it is wrapped in AdminSite.admin_view (is_staff); new models
# registered later add patterns here by themselves. test_admin_is_for_staff_only asks each.
ADMIN_NAMESPACE = "admin"


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = pattern.name or f"<unnamed {prefix}{pattern.pattern}>"
            yield (f"{namespace}:{name}" if namespace else name), prefix + str(pattern.pattern)


def _all_patterns() -> list[tuple[str, str]]:
    return list(_walk(get_resolver().url_patterns))


def test_every_url_pattern_is_classified():
    found = {name for name, _route in _all_patterns() if not name.startswith(ADMIN_NAMESPACE + ":")}
    assert found - set(ROUTES) == set(), "new URL patterns: add them to ROUTES and the matrix"
    assert set(ROUTES) - found == set(), "ROUTES names patterns that no longer exist"


# --- Content paths: who may see, or act on, one object ----------------------------------------


def _owner_only(persona: str, state: str, level: str) -> bool:
    return persona == "owner" and sees(persona, state, level)


def _owner_or_staff(persona: str, state: str, level: str) -> bool:
    return persona in OWNER_AND_STAFF and sees(persona, state, level)


def _reviewable(persona: str, state: str, level: str) -> bool:
    # Reviews are of published versions: a draft cannot be reviewed, even by staff.
    return sees(persona, state, level) and STATES[state].version == PUBLISHED


def _image_page(persona: str, state: str, level: str) -> bool:
    # An image a moderator hid has no page for anyone (moderators see it through the queue's
    # evidence view); the media view still serves it to its owner and staff.
    return sees(persona, state, level) and STATES[state].image_level != NsfwLevel.BLOCKED


def _reportable_image(persona: str, state: str, level: str) -> bool:
    # Reporting goes by the version: an image a moderator hid on a published version can be
    # reported (the form names only the public model).
    return sees(persona, state, "version")


def _seen(persona: str, state: str, level: str) -> bool:
    return sees(persona, state, level)


@dataclass(frozen=True)
class Call:
    route: str
    method: str
    level: str  # "model", "version" or "image": which column of SEES decides
    url: Callable[[World, Subject, str], str]
    ok: frozenset[int]  # the answer when the person may
    who: Callable[[str, str, str], bool] = _seen
    anonymous: str = "rule"  # "rule": as `who` says; "login": sent to sign in; "401"
    data: Callable[[World, Subject, str], Any] | None = None
    is_json: bool = False
    shows: Callable[[Subject], str] | None = None  # text the answer holds when shown
    listed: Callable[[Any, Subject], bool] | None = None  # a list: the subject is in it
    writes: tuple[type, ...] = ()  # rows that must not change when refused
    variant: str = ""

    @property
    def states(self) -> tuple[str, ...]:
        return {"model": MODEL_STATES, "version": VERSION_STATES, "image": IMAGE_STATES}[self.level]


def _detail(w: World, s: Subject, persona: str) -> str:
    return f"/models/{s.model.pk}/{s.model.slug}/"


def _item_ids(data) -> set[int]:
    return {item["id"] for item in data.get("items", data if isinstance(data, list) else [])}


OK = frozenset({200})
REDIRECT = frozenset({302})

CALLS = [
    # The model.
    Call("models_hub:detail", "GET", "model", _detail, OK, shows=lambda s: s.model.name),
    Call("models_hub:detail_short", "GET", "model",
         lambda w, s, p: f"/models/{s.model.pk}/", frozenset({301, 302})),
    Call("models_hub:api_model", "GET", "model",
         lambda w, s, p: f"/api/v1/models/{s.model.pk}", OK, shows=lambda s: s.model.name),
    Call("favorite", "POST", "model", lambda w, s, p: f"/models/{s.model.pk}/favorite",
         REDIRECT, anonymous="login", data=lambda w, s, p: {"on": "1"}, writes=(Favorite,)),
    Call("collect", "POST", "model", lambda w, s, p: f"/models/{s.model.pk}/collect",
         REDIRECT, anonymous="login",
         data=lambda w, s, p: {"collection": w.mine[p].pk if p in w.mine else 0, "on": "1"},
         writes=(CollectionItem,)),
    Call("collections", "POST", "model", lambda w, s, p: "/collections/", REDIRECT,
         anonymous="login", data=lambda w, s, p: {"name": "New qx", "model": s.model.pk},
         writes=(Collection, CollectionItem)),
    Call("model_comment", "POST", "model", lambda w, s, p: f"/models/{s.model.pk}/comments",
         REDIRECT, anonymous="login", data=lambda w, s, p: {"body": "Hello"}, writes=(Comment,)),
    Call("models_hub:version_upload", "GET", "model",
         lambda w, s, p: f"/models/{s.model.pk}/versions/new/", OK, who=_owner_only,
         anonymous="login"),
    Call("models_hub:api_model_versions", "POST", "model",
         lambda w, s, p: f"/api/v1/models/{s.model.pk}/versions", frozenset({400}),
         who=_owner_only, anonymous="401", data=lambda w, s, p: {}, is_json=True,
         writes=(ModelVersion,)),
    # The version (and its files).
    Call("models_hub:detail", "GET", "version",
         lambda w, s, p: f"{_detail(w, s, p)}?version={s.version.pk}", OK,
         shows=lambda s: s.version.name, variant="?version"),
    Call("models_hub:api_version", "GET", "version",
         lambda w, s, p: f"/api/v1/model-versions/{s.version.pk}", OK,
         shows=lambda s: s.version.name),
    Call("models_hub:download", "GET", "version",
         lambda w, s, p: f"/api/download/models/{s.version.pk}", OK,
         shows=lambda s: f"weights of {s.state}"),
    Call("models_hub:download", "GET", "version",
         lambda w, s, p: f"/api/download/models/{s.version.pk}?fileId={s.file.pk}", OK,
         shows=lambda s: f"weights of {s.state}", variant="?fileId"),
    # A file is reached through its own version only, whoever asks.
    Call("models_hub:download", "GET", "version",
         lambda w, s, p: f"/api/download/models/{w.subjects['published'].version.pk}"
                         f"?fileId={s.file.pk}", OK,
         who=lambda p, st, level: st == "published", shows=lambda s: f"weights of {s.state}",
         variant="?fileId(on the published version)"),
    Call("models_hub:api_version_by_hash", "GET", "version",
         lambda w, s, p: f"/api/v1/model-versions/by-hash/{s.sha256}", OK,
         shows=lambda s: s.version.name),
    Call("models_hub:api_versions_by_hash", "POST", "version",
         lambda w, s, p: "/api/v1/model-versions/by-hash", OK,
         data=lambda w, s, p: [s.sha256], is_json=True,
         listed=lambda data, s: s.version.pk in {v["id"] for v in data}),
    Call("models_hub:api_images", "GET", "version",
         lambda w, s, p: f"/api/v1/images?modelVersionId={s.version.pk}", OK,
         listed=lambda data, s: s.image.pk in _item_ids(data), variant="?modelVersionId"),
    Call("models_hub:api_images", "GET", "image",
         lambda w, s, p: f"/api/v1/images?modelId={s.model.pk}", OK,
         who=lambda p, st, level: _api_image_listed(p, st),
         listed=lambda data, s: s.image.pk in _item_ids(data), variant="?modelId"),
    Call("models_hub:version_checks", "GET", "version",
         lambda w, s, p: f"/models/{s.model.pk}/versions/{s.version.pk}/checks", OK,
         who=_owner_or_staff),
    Call("review", "POST", "version", lambda w, s, p: f"/model-versions/{s.version.pk}/review",
         REDIRECT, who=_reviewable, anonymous="login",
         data=lambda w, s, p: {"recommended": "1", "text": "Fine"}, writes=(Review,)),
    Call("models_hub:api_version_publish", "POST", "version",
         lambda w, s, p: f"/api/v1/model-versions/{s.version.pk}/publish",
         frozenset({200, 409}), who=_owner_only, anonymous="401", writes=(ModelVersion,)),
    Call("moderation:report", "GET", "version",
         lambda w, s, p: f"/report/?version={s.version.pk}", OK, anonymous="login",
         variant="?version"),
    Call("moderation:report", "POST", "version",
         lambda w, s, p: f"/report/?version={s.version.pk}", frozenset({200, 302}),
         anonymous="login", data=lambda w, s, p: {"rule": "spam", "version": s.version.pk},
         writes=(Report,), variant="?version"),
    # The gallery image and its files.
    Call("image", "GET", "image", lambda w, s, p: f"/images/{s.image.pk}/", OK,
         who=_image_page, shows=lambda s: s.image.image.url),
    Call("react", "POST", "image", lambda w, s, p: f"/images/{s.image.pk}/react", REDIRECT,
         who=_image_page, anonymous="login", data=lambda w, s, p: {"kind": "like", "on": "1"},
         writes=(Reaction,)),
    Call("image_comment", "POST", "image", lambda w, s, p: f"/images/{s.image.pk}/comments",
         REDIRECT, who=_image_page, anonymous="login", data=lambda w, s, p: {"body": "Hi"},
         writes=(Comment,)),
    Call("moderation:report", "GET", "image", lambda w, s, p: f"/report/?image={s.image.pk}",
         OK, who=_reportable_image, anonymous="login", variant="?image"),
    Call("media", "GET", "image", lambda w, s, p: s.image.image.url, OK,
         shows=lambda s: f"pixels of {s.image.image.name}", variant="(image)"),
    Call("media", "GET", "image", lambda w, s, p: s.image.thumbnail.url, OK,
         shows=lambda s: f"pixels of {s.image.thumbnail.name}", variant="(thumbnail)"),
]  # fmt: skip


def _call_id(call: Call) -> str:
    return f"{call.method}-{call.route}{call.variant}"


def _body(response) -> str:
    if getattr(response, "streaming", False):
        # The test client closes the response once this is read (calling close() again
        # would send request_finished, which closes the database connection).
        content = b"".join(response.streaming_content)
    else:
        content = response.content
    return content.decode("utf-8", "replace")


def _counts(models: tuple[type, ...]) -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in models}


def _send(c: Client, call: Call, url: str, data) -> Any:
    if call.method == "GET":
        return c.get(url)
    if call.is_json:
        return c.post(url, json.dumps(data if data is not None else {}), "application/json")
    return c.post(url, data or {})


def _expected(call: Call, persona: str, state: str) -> str:
    if persona == "anonymous" and call.anonymous != "rule":
        return call.anonymous
    return "shown" if call.who(persona, state, call.level) else "hidden"


CONTENT_CASES = [
    pytest.param(call, persona, state, id=f"{persona}-{_call_id(call)}-{state}")
    for call in CALLS
    for state in call.states
    for persona in PERSONAS
]


@pytest.mark.parametrize(("call", "persona", "state"), CONTENT_CASES)
def test_content_paths(world, call, persona, state):
    s = world.subjects[state]
    url = call.url(world, s, persona)
    data = call.data(world, s, persona) if call.data else None
    before = _counts(call.writes)
    response = _send(world.client(persona), call, url, data)
    body = _body(response)
    expected = _expected(call, persona, state)
    status = response.status_code
    if call.listed is not None and expected in ("shown", "hidden"):
        # A list or lookup: always answered, holding the subject only for those who may see it.
        assert status == 200, body[:300]
        assert call.listed(json.loads(body), s) == (expected == "shown"), body[:500]
    elif expected == "shown":
        assert status in call.ok, body[:300]
        if call.shows is not None:
            assert call.shows(s) in body
        if SEES[state][LEVELS[call.level]] != EVERYONE:
            # Something not public must never be kept by a shared cache.
            assert "public" not in response.get("Cache-Control", "")
    elif expected == "login":
        assert status == 302 and response["Location"].startswith(LOGIN), status
    elif expected == "401":
        assert status == 401, body[:300]
    else:
        assert status in (404, 410), f"{status}: {body[:300]}"
    if expected != "shown":
        for secret in world.secrets(persona, state):
            assert secret not in body
        assert _counts(call.writes) == before
        if ModelVersion in call.writes:  # nor was anything published or moved to review
            assert ModelVersion.objects.get(pk=s.version.pk).status == s.version.status
            assert Model.objects.get(pk=s.model.pk).status == s.model.status


# --- Lists: what they hold, for whom ----------------------------------------------------------


def _listed_model(persona: str, state: str) -> bool:
    """Model lists (browse, search, tag pages, profiles, collections, favourites) are the public
    catalogue plus one's own work."""
    spec = STATES[state]
    own = persona == "owner" and spec.owner == "owner"
    return sees(persona, state, "model") and (spec.model == PUBLISHED or own)


def _json(response) -> Any:
    return json.loads(response.content)


def _api_model_ids(response) -> set[int]:
    return {m["id"] for m in _json(response)["items"]}


def _api_version_ids(data) -> set[int]:
    items = data.get("items", [data])
    return {v["id"] for m in items for v in m["modelVersions"]}


@dataclass(frozen=True)
class ListCall:
    route: str
    variant: str
    url: Callable[[World], str]
    # Which states the list names (others are only checked for leaks), whether it holds the
    # subject, and whether it should.
    states: tuple[str, ...]
    holds: Callable[[Any, Subject], bool]
    who: Callable[[str, str], bool]
    anonymous: str = "rule"


def _html_has(text: Callable[[Subject], str]) -> Callable[[Any, Subject], bool]:
    return lambda response, s: text(s) in response.content.decode()


OWN_MODELS = tuple(
    s for s in MODEL_STATES if STATES[s].owner == "owner"
)  # the owner's profile lists only his
PUBLIC_ON_HOST = tuple(s for s, spec in STATES.items() if spec.on_host)
MODEL_NAME = _html_has(lambda s: s.model.name)
VERSION_NAME = _html_has(lambda s: s.version.name)


def _feed(persona: str, state: str) -> bool:
    return (
        persona in FOLLOWERS
        and sees(persona, state, "version")
        and STATES[state].version == PUBLISHED
    )


def _api_listed_model(persona: str, state: str) -> bool:
    # The API lists published models with a published version, the caller's own drafts not.
    spec = STATES[state]
    return spec.model == PUBLISHED and spec.version == PUBLISHED and sees(persona, state, "model")


def _public_tag(persona: str, state: str) -> bool:
    # Tag directories count public models only: the same for everyone.
    return SEES[state][0] == EVERYONE


def _api_image_listed(persona: str, state: str) -> bool:
    # No list goes beyond a browsing level, and nobody's takes in a BLOCKED image.
    return sees(persona, state, "image") and STATES[state].image_level != NsfwLevel.BLOCKED


def _api_models_holds(response, s: Subject) -> bool:
    data = _json(response)
    if STATES[s.state].on_host:
        return s.version.pk in _api_version_ids(data)
    return s.model.pk in {m["id"] for m in data["items"]}


LIST_CALLS = [
    ListCall("models_hub:browse", "", lambda w: "/", MODEL_STATES, MODEL_NAME, _listed_model),
    ListCall("models_hub:browse", "?q", lambda w: "/?q=qx", MODEL_STATES, MODEL_NAME,
             _listed_model),
    ListCall("models_hub:browse", "?tag", lambda w: "/?tag=mx-matrix", MODEL_STATES,
             MODEL_NAME, _listed_model),
    ListCall("models_hub:browse", "?base", lambda w: "/?base=sd-1-5&type=LORA", MODEL_STATES,
             MODEL_NAME, _listed_model),
    ListCall("models_hub:browse", "(popular tags)", lambda w: "/", MODEL_STATES,
             _html_has(lambda s: f"mx-tag-{s.state}"), _public_tag),
    ListCall("profile", "", lambda w: "/u/mx-owner/", OWN_MODELS, MODEL_NAME, _listed_model),
    ListCall("collection", "", lambda w: f"/collections/{w.extra['shelf'].pk}/", MODEL_STATES,
             MODEL_NAME, _listed_model),
    ListCall("favorites", "", lambda w: "/accounts/favorites/", MODEL_STATES, MODEL_NAME,
             _listed_model, anonymous="login"),
    ListCall("feed", "", lambda w: "/feed/", VERSION_STATES, VERSION_NAME, _feed,
             anonymous="login"),
    ListCall("notifications", "", lambda w: "/accounts/notifications/", VERSION_STATES,
             _html_has(lambda s: f"News {s.state} qx"),
             lambda p, st: sees(p, st, "version"), anonymous="login"),
    # The host model's page and API answer list its versions.
    ListCall("models_hub:detail", "(host versions)",
             lambda w: f"/models/{w.host.pk}/{w.host.slug}/", PUBLIC_ON_HOST, VERSION_NAME,
             lambda p, st: sees(p, st, "version")),
    ListCall("models_hub:api_model", "(host versions)", lambda w: f"/api/v1/models/{w.host.pk}",
             PUBLIC_ON_HOST, lambda r, s: s.version.pk in _api_version_ids(_json(r)),
             lambda p, st: sees(p, st, "version")),
    # The published model's page holds the image a moderator hid on its version.
    ListCall("models_hub:detail", "(published gallery)",
             lambda w: _detail(w, w.subjects["published"], ""), ("published",), MODEL_NAME,
             lambda p, st: True),
    ListCall("models_hub:api_model", "(published gallery)",
             lambda w: f"/api/v1/models/{w.subjects['published'].model.pk}", ("published",),
             MODEL_NAME, lambda p, st: True),
    ListCall("models_hub:api_version", "(published gallery)",
             lambda w: f"/api/v1/model-versions/{w.subjects['published'].version.pk}",
             ("published",), VERSION_NAME, lambda p, st: True),
    ListCall("models_hub:api_version_by_hash", "(published gallery)",
             lambda w: f"/api/v1/model-versions/by-hash/{w.subjects['published'].sha256}",
             ("published",), VERSION_NAME, lambda p, st: True),
    # The published image's page lists the resources it was made with, found by file hash.
    ListCall("image", "(resources)",
             lambda w: f"/images/{w.subjects['published'].image.pk}/", VERSION_STATES,
             VERSION_NAME, lambda p, st: sees(p, st, "version")),
    ListCall("models_hub:api_models", "?query", lambda w: "/api/v1/models?query=qx",
             VERSION_STATES, _api_models_holds,
             lambda p, st: sees(p, st, "version") if STATES[st].on_host
             else _api_listed_model(p, st)),
    ListCall("models_hub:api_models", "?tag", lambda w: "/api/v1/models?tag=mx-matrix",
             VERSION_STATES, _api_models_holds,
             lambda p, st: sees(p, st, "version") if STATES[st].on_host
             else _api_listed_model(p, st)),
    ListCall("models_hub:api_models", "?ids",
             lambda w: "/api/v1/models?" + "&".join(
                 f"ids={m}" for m in sorted({x.model.pk for x in w.subjects.values()})),
             VERSION_STATES, _api_models_holds,
             lambda p, st: sees(p, st, "version") if STATES[st].on_host
             else _api_listed_model(p, st)),
    ListCall("models_hub:api_models", "?username",
             lambda w: "/api/v1/models?username=mx-owner", VERSION_STATES, _api_models_holds,
             lambda p, st: STATES[st].owner == "owner" and (
                 sees(p, st, "version") if STATES[st].on_host else _api_listed_model(p, st))),
    ListCall("models_hub:api_images", "", lambda w: "/api/v1/images?limit=200", IMAGE_STATES,
             lambda r, s: s.image.pk in _item_ids(_json(r)), _api_image_listed),
    ListCall("models_hub:api_images", "?username",
             lambda w: "/api/v1/images?limit=200&username=mx-owner", IMAGE_STATES,
             lambda r, s: s.image.pk in _item_ids(_json(r)),
             lambda p, st: STATES[st].owner == "owner" and _api_image_listed(p, st)),
    ListCall("models_hub:api_tags", "", lambda w: "/api/v1/tags?query=mx-tag&limit=200",
             MODEL_STATES, _html_has(lambda s: f'"mx-tag-{s.state}"'), _public_tag),
]  # fmt: skip

LIST_CASES = [
    pytest.param(lc, persona, state, id=f"{persona}-GET-{lc.route}{lc.variant}-{state}")
    for lc in LIST_CALLS
    for state in IMAGE_STATES
    for persona in PERSONAS
]


def _fetch(world: World, persona: str, url: str):
    """Lists are read, never written: one request per person and list serves every state."""
    fetched = world.extra.setdefault("fetched", {})
    if (persona, url) not in fetched:
        fetched[persona, url] = world.client(persona).get(url)
    return fetched[persona, url]


@pytest.mark.parametrize(("lc", "persona", "state"), LIST_CASES)
def test_lists(world, lc, persona, state):
    response = _fetch(world, persona, lc.url(world))
    if persona == "anonymous" and lc.anonymous == "login":
        assert response.status_code == 302 and response["Location"].startswith(LOGIN)
        return
    assert response.status_code == 200
    s = world.subjects[state]
    if state in lc.states:
        holds, should = lc.holds(response, s), lc.who(persona, state)
        assert holds == should, f"{lc.url(world)} {'holds' if holds else 'lacks'} {state}"
    body = response.content.decode()
    for secret in world.secrets(persona, state):
        assert secret not in body


def test_creators_directory_leaves_out_a_banned_member(world):
    for persona in PERSONAS:
        names = {c["username"] for c in _json(_fetch(world, persona, "/api/v1/creators"))["items"]}
        assert "mx-owner" in names and "mx-banned" not in names


# --- Comments and reviews -----------------------------------------------------------------


COMMENT_PAGES = {
    "models_hub:detail": lambda w: _detail(w, w.subjects["published"], ""),
    "image": lambda w: f"/images/{w.subjects['published'].image.pk}/",
}
# A comment or review a moderator hid: its author and staff; a banned member's: nobody.
HIDDEN_COMMENT_READERS = frozenset({"stranger", "staff"})


@pytest.mark.parametrize("page", list(COMMENT_PAGES))
@pytest.mark.parametrize("persona", PERSONAS)
def test_hidden_and_banned_comments_and_reviews(world, persona, page):
    html = _fetch(world, persona, COMMENT_PAGES[page](world)).content.decode()
    assert ("Comment hidden qx" in html) == (persona in HIDDEN_COMMENT_READERS)
    assert "Comment banned qx" not in html
    if page == "models_hub:detail":
        assert "Comment owner qx" in html
        assert ("Review hidden qx" in html) == (persona in HIDDEN_COMMENT_READERS)
        assert "Review banned qx" not in html


@pytest.mark.parametrize("persona", ["anonymous", "stranger", "moderator"])
def test_what_a_moderator_removed_is_a_notice_naming_only_the_rule(world, persona):
    s = world.subjects["blocked"]  # STATES: removed=True, a moderator's block
    for url in (_detail(world, s, persona), f"/models/{s.model.pk}/"):
        response = world.client(persona).get(url)
        assert response.status_code == 410
        html = response.content.decode()
        assert Rule.objects.get(code="copyright-license").title in html
        for secret in (s.model.name, s.version.name, "Blocked in the matrix"):
            assert secret not in html
        # The short address does not lead to the name either (the long one holds it already,
        # and the page's sign-in link repeats the address asked).
        if url.endswith(f"/{s.model.pk}/"):
            assert s.model.slug not in html


# --- Other people's things ------------------------------------------------------------------


@dataclass(frozen=True)
class OtherCall:
    route: str
    method: str
    url: Callable[[World], str]
    # The answer for each kind of person: a status, or "login" (sent to sign in).
    expect: dict[str, int | str]
    data: Callable[[World], Any] | None = None
    # Whether the owner's thing was changed, after the call.
    changed: Callable[[World], bool] | None = None
    changes_for: frozenset[str] = frozenset()  # who may change it
    variant: str = ""
    content: bytes | None = None  # a raw body (PUT)


def _only(allowed: dict[str, int | str], default: int | str = 404) -> dict[str, int | str]:
    return {p: allowed.get(p, default) for p in PERSONAS}


def _collection_changed(w: World) -> bool:
    found = Collection.objects.filter(pk=w.extra["owner_shelf"].pk).first()
    return found is None or found.name != "Owner shelf qx"


def _comment_changed(w: World) -> bool:
    return Comment.objects.get(pk=w.extra["owner_comment"].pk).deleted


def _key_changed(w: World) -> bool:
    return ApiKey.objects.get(pk=w.key_rows["owner_read"].pk).revoked_at is not None


def _upload_changed(w: World) -> bool:
    found = ResumableUpload.objects.get(pk=w.extra["upload"].pk)
    return found.state != ResumableUpload.State.OPEN or found.received != 0


def _upload(w: World) -> str:
    return f"/api/uploads/{w.extra['upload'].pk}"


OTHER_CALLS = [
    OtherCall("collection", "GET", lambda w: f"/collections/{w.extra['private_shelf'].pk}/",
              _only({"owner": 200})),
    OtherCall("collection_edit", "POST",
              lambda w: f"/collections/{w.extra['owner_shelf'].pk}/edit",
              _only({"anonymous": "login", "owner": 302}),
              data=lambda w: {"name": "Renamed", "is_public": "on"},
              changed=_collection_changed, changes_for=frozenset({"owner"}), variant="(rename)"),
    OtherCall("collection_edit", "POST",
              lambda w: f"/collections/{w.extra['owner_shelf'].pk}/edit",
              _only({"anonymous": "login", "owner": 302}), data=lambda w: {"delete": "1"},
              changed=_collection_changed, changes_for=frozenset({"owner"}), variant="(delete)"),
    # The author removes a comment, and so may staff (community.services.comment_delete).
    OtherCall("comment_delete", "POST",
              lambda w: f"/comments/{w.extra['owner_comment'].pk}/delete",
              _only({"anonymous": "login", "owner": 302, "staff": 302}),
              changed=_comment_changed, changes_for=frozenset({"owner", "staff"})),
    # Everyone's own key page answers; only the owner's revokes the owner's key.
    OtherCall("api_keys", "POST", lambda w: "/accounts/api-keys/",
              _only({"anonymous": "login"}, 302),
              data=lambda w: {"revoke": w.key_rows["owner_read"].pk},
              changed=_key_changed, changes_for=frozenset({"owner"}), variant="(revoke)"),
    OtherCall("models_hub:upload_detail", "GET", _upload, _only({"anonymous": 401, "owner": 200})),
    OtherCall("models_hub:upload_detail", "PUT", lambda w: _upload(w) + "?offset=0",
              _only({"anonymous": 401, "owner": 200}), content=b"x",
              changed=_upload_changed, changes_for=frozenset({"owner"})),
    OtherCall("models_hub:upload_detail", "DELETE", _upload,
              _only({"anonymous": 401, "owner": 204}),
              changed=_upload_changed, changes_for=frozenset({"owner"})),
    OtherCall("models_hub:upload_complete", "POST", lambda w: _upload(w) + "/complete",
              _only({"anonymous": 401, "owner": 400}),
              changed=_upload_changed, changes_for=frozenset()),
    OtherCall("models_hub:upload_parts", "GET",
              lambda w: f"/api/uploads/{w.extra['direct_upload'].pk}/parts?numbers=0",
              _only({"anonymous": 401, "owner": 400})),
    OtherCall("moderation:appeal", "GET", lambda w: f"/appeals/{w.extra['action'].pk}/",
              _only({"anonymous": "login", "owner": 200})),
    # A banned member's profile: staff only; nobody can follow a closed account.
    OtherCall("profile", "GET", lambda w: "/u/mx-banned/", _only({"staff": 200})),
    OtherCall("follow", "POST", lambda w: "/u/mx-banned/follow",
              _only({"anonymous": "login"}), variant="(banned)"),
    OtherCall("follow", "POST", lambda w: "/u/mx-owner/follow",
              _only({"anonymous": "login", "stranger": 302, "moderator": 302, "staff": 302,
                     "owner": 302}), data=lambda w: {"on": "1"}, variant="(active)"),
    OtherCall("profile", "GET", lambda w: "/u/mx-owner/", _only({}, 200), variant="(active)"),
]  # fmt: skip

OTHER_CASES = [
    pytest.param(oc, persona, id=f"{persona}-{oc.method}-{oc.route}{oc.variant}")
    for oc in OTHER_CALLS
    for persona in PERSONAS
]


@pytest.mark.parametrize(("oc", "persona"), OTHER_CASES)
def test_other_peoples_things(world, oc, persona):
    # The owner's upload has received nothing yet: its part file is there, empty (files are
    # not rolled back with the database).
    part = world.extra["upload"].temp_path
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(b"")
    c = world.client(persona)
    url = oc.url(world)
    data = oc.data(world) if oc.data else None
    if oc.method == "GET":
        response = c.get(url)
    elif oc.method == "PUT":
        response = c.put(url, oc.content or b"", content_type="application/offset+octet-stream")
    elif oc.method == "DELETE":
        response = c.delete(url)
    else:
        response = c.post(url, data or {})
    expected = oc.expect[persona]
    if expected == "login":
        assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    else:
        assert response.status_code == expected, _body(response)[:300]
    if oc.changed is not None:
        assert oc.changed(world) == (persona in oc.changes_for)
    if persona != "owner":
        # Nothing of the owner's private things shows on anyone else's answer.
        body = _body(response)
        for secret in ("Private shelf qx", world.key_rows["owner_read"].prefix):
            assert secret not in body


# --- Moderators' pages and API ----------------------------------------------------------------


def _item(w: World) -> int:
    return w.extra["item"].pk


MODERATION_CALLS = [
    ("moderation:queue", "GET", lambda w: "/moderation/", 200),
    ("moderation:item", "GET", lambda w: f"/moderation/items/{_item(w)}/", 200),
    ("moderation:claim", "POST", lambda w: f"/moderation/items/{_item(w)}/claim", 302),
    ("moderation:release", "POST", lambda w: f"/moderation/items/{_item(w)}/release", 302),
    ("moderation:act", "POST", lambda w: f"/moderation/items/{_item(w)}/act", 302),
    ("moderation:evidence", "GET",
     lambda w: f"/moderation/evidence/image/{w.subjects['image_blocked'].image.pk}", 200),
    ("moderation:evidence", "GET",
     lambda w: f"/moderation/evidence/image/{w.subjects['deleted'].image.pk}", 200),
    ("moderation:api_queue", "GET", lambda w: "/api/moderation/queue", 200),
    ("moderation:api_item", "GET", lambda w: f"/api/moderation/items/{_item(w)}", 200),
    ("moderation:api_claim", "POST", lambda w: f"/api/moderation/items/{_item(w)}/claim", 200),
    ("moderation:api_release", "POST",
     lambda w: f"/api/moderation/items/{_item(w)}/release", 200),
    ("moderation:api_act", "POST", lambda w: f"/api/moderation/items/{_item(w)}/act", 400),
]  # fmt: skip


@pytest.mark.parametrize(
    ("route", "method", "url", "moderator_status"),
    MODERATION_CALLS,
    ids=[f"{m}-{r}-{i}" for i, (r, m, _u, _s) in enumerate(MODERATION_CALLS)],
)
@pytest.mark.parametrize("persona", PERSONAS)
def test_moderation_paths(world, persona, route, method, url, moderator_status):
    """Moderators only (the group, not is_staff): a 404 for everyone else, and a 401 for an
    API call without credentials."""
    c = world.client(persona)
    response = c.get(url(world)) if method == "GET" else c.post(url(world), {})
    body = _body(response)
    if persona == "moderator":
        assert response.status_code == moderator_status, body[:300]
    elif persona == "anonymous" and route.startswith("moderation:api_"):
        assert response.status_code == 401
    else:
        assert response.status_code == 404
        assert "Queue reason qx" not in body and "pixels of" not in body


# --- Pages with no object, and pages about the caller only --------------------------------------

PUBLIC_PAGES = {
    "api_schema": ("GET", "/api/schema/"),
    "api_docs": ("GET", "/api/docs/"),
    "set_language": ("POST", "/i18n/setlang/"),
    "login": ("GET", "/accounts/login/"),
    "logout": ("POST", "/accounts/logout/"),
    "signup": ("GET", "/accounts/signup/"),
    "password_reset": ("GET", "/accounts/password-reset/"),
    "password_reset_done": ("GET", "/accounts/password-reset/sent/"),
    "password_reset_confirm": ("GET", "/accounts/password-reset/MQ/not-a-token/"),
    "password_reset_complete": ("GET", "/accounts/password-reset/done/"),
    "moderation:guidelines": ("GET", "/guidelines/"),
    "moderation:transparency": ("GET", "/transparency/"),
    "moderation:takedown": ("GET", "/takedown/"),
    "models_hub:api_creators": ("GET", "/api/v1/creators"),
    "models_hub:api_tags": ("GET", "/api/v1/tags?limit=200"),
}
OWN_PAGES = {
    "password_change": ("GET", "/accounts/password/"),
    "password_change_done": ("GET", "/accounts/password/changed/"),
    "notifications": ("GET", "/accounts/notifications/"),
    "api_keys": ("GET", "/accounts/api-keys/"),
    "profile_edit": ("GET", "/accounts/profile/"),
    "browsing_settings": ("GET", "/accounts/browsing/"),
    "favorites": ("GET", "/accounts/favorites/"),
    "feed": ("GET", "/feed/"),
    "collections": ("GET", "/collections/"),
    "models_hub:upload": ("GET", "/upload/"),
    "models_hub:upload_create": ("POST", "/api/uploads"),
}


def _hidden_from(world: World, persona: str) -> list[str]:
    return [secret for state in STATES for secret in world.secrets(persona, state)]


@pytest.mark.parametrize("route", list(PUBLIC_PAGES))
@pytest.mark.parametrize("persona", PERSONAS)
def test_public_pages(world, persona, route):
    method, url = PUBLIC_PAGES[route]
    c = world.client(persona)
    response = c.get(url) if method == "GET" else c.post(url, {})
    # signup sends a signed-in person home; set_language and logout redirect.
    assert response.status_code in (200, 302), response.status_code
    body = _body(response)
    for secret in _hidden_from(world, persona):
        assert secret not in body


@pytest.mark.parametrize("route", list(OWN_PAGES))
@pytest.mark.parametrize("persona", PERSONAS)
def test_own_pages(world, persona, route):
    method, url = OWN_PAGES[route]
    c = world.client(persona)
    response = c.get(url) if method == "GET" else c.post(url, {})
    if persona == "anonymous":
        if url.startswith("/api/"):
            assert response.status_code == 401
        else:
            assert response.status_code == 302 and response["Location"].startswith(LOGIN)
        return
    assert response.status_code == (400 if method == "POST" else 200)
    body = _body(response)
    for secret in _hidden_from(world, persona):
        assert secret not in body


# --- Media: avatars and model files ------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_avatars_of_active_members_only_and_model_files_never(world, persona):
    c = world.client(persona)
    assert c.get("/media/avatars/mx/owner.webp").status_code == 200
    # A banned member's picture is gone with the account, for everyone (staff see the profile).
    assert c.get("/media/avatars/mx/banned.webp").status_code == 404
    # Model files only ever leave through the download endpoint, which checks visibility.
    for state in ("published", "draft"):
        assert c.get(f"/media/models/mx/{state}.safetensors").status_code == 404


# --- API keys ----------------------------------------------------------------------------------

KEY_PERSONAS = {
    "no_key": ("anonymous", ()),
    "owner_read": ("owner", ("read",)),
    "owner_download": ("owner", ("download",)),
    "stranger_read": ("stranger", ("read",)),
    "stranger_download": ("stranger", ("download",)),
    "moderator_read": ("moderator", ("read",)),
    "bad_key": (None, ()),
}
KEY_CALLS = [
    # route, level, url, scope it needs
    ("models_hub:api_model", "model", lambda s: f"/api/v1/models/{s.model.pk}", "read"),
    ("models_hub:api_version", "version", lambda s: f"/api/v1/model-versions/{s.version.pk}",
     "read"),
    ("models_hub:api_version_by_hash", "version",
     lambda s: f"/api/v1/model-versions/by-hash/{s.sha256}", "read"),
    ("models_hub:download", "version", lambda s: f"/api/download/models/{s.version.pk}",
     "download"),
]  # fmt: skip
KEY_STATES = ("published", "draft", "blocked", "deleted", "version_draft", "banned_owner")
KEY_CASES = [
    pytest.param(key, route, level, url, scope, state, id=f"{key}-GET-{route}-{state}")
    for key in KEY_PERSONAS
    for route, level, url, scope in KEY_CALLS
    for state in KEY_STATES
    if level != "model" or state in MODEL_STATES
]


@pytest.mark.parametrize(("key", "route", "level", "url", "scope", "state"), KEY_CASES)
def test_api_keys_see_what_their_owner_sees_within_their_scopes(
    world, key, route, level, url, scope, state
):
    persona, scopes = KEY_PERSONAS[key]
    headers = {}
    if key == "bad_key":
        headers["Authorization"] = "Bearer mh_" + "x" * 40
    elif key != "no_key":
        headers["Authorization"] = f"Bearer {world.keys[key]}"
    s = world.subjects[state]
    response = Client().get(url(s), headers=headers)
    body = _body(response)
    if persona is None:
        assert response.status_code == 401
    elif persona != "anonymous" and scope not in scopes:
        assert response.status_code == 403
    elif sees(persona, state, level):
        assert response.status_code == 200
    else:
        assert response.status_code == 404
        for secret in world.secrets(persona, state):
            assert secret not in body


@pytest.mark.parametrize(
    ("key", "expected"),
    [("no_key", 401), ("bad_key", 401), ("stranger_read", 404), ("moderator_read", 403),
     ("moderator_moderate", 200)],
)  # fmt: skip
def test_moderation_api_needs_a_moderator_and_the_moderate_scope(world, key, expected):
    headers = {}
    if key == "bad_key":
        headers["Authorization"] = "Bearer mh_" + "x" * 40
    elif key != "no_key":
        headers["Authorization"] = f"Bearer {world.keys[key]}"
    assert Client().get("/api/moderation/queue", headers=headers).status_code == expected


def test_an_upload_key_reaches_only_its_own_uploads(world):
    headers = {"Authorization": f"Bearer {world.keys['stranger_upload']}"}
    url = f"/api/uploads/{world.extra['upload'].pk}"
    assert Client().get(url, headers=headers).status_code == 404
    assert Client().delete(url, headers=headers).status_code == 404
    assert not _upload_changed(world)


# --- The admin ----------------------------------------------------------------------------------


def _admin_urls(world: World) -> list[str]:
    """A concrete address for every pattern of the admin, objects from the world."""
    draft = world.subjects["draft"].model
    content_type = ContentType.objects.get_for_model(Model)
    urls = []
    for name, route in _all_patterns():
        if not name.startswith(ADMIN_NAMESPACE + ":"):
            continue
        path = route.replace(
            "^(?P<app_label>auth|community|models_hub|moderation)/$", "models_hub/"
        )
        path = path.replace("(?P<url>.*)$", "nothing-here/")
        path = path.replace("<path:content_type_id>", str(content_type.pk))
        path = path.replace("<id>", str(world.users["owner"].pk))  # a user's password form
        if path.startswith("admin/r/"):  # "view on site": the content type is Model's
            path = path.replace("<path:object_id>", str(draft.pk))
        elif "<path:object_id>" in path:
            app_label, model_name = path.split("/")[1:3]
            model = next(
                m for m in admin.site._registry
                if (m._meta.app_label, m._meta.model_name) == (app_label, model_name)
            )  # fmt: skip
            row = draft if model is Model else model.objects.order_by("pk").first()
            path = path.replace("<path:object_id>", str(row.pk if row else 1))
        assert "<" not in path and "(" not in path, f"admin pattern not handled: {route}"
        urls.append("/" + path)
    return urls


@pytest.mark.parametrize("persona", ["anonymous", "stranger", "owner", "moderator"])
def test_admin_is_for_staff_only(world, persona):
    """Every admin view sends anyone who is not staff to the admin's sign-in page (which,
    with its sign-out view, is all of it that answers them)."""
    c = world.client(persona)
    open_to_all = {"/admin/login/", "/admin/logout/"}
    urls = _admin_urls(world)
    assert len(urls) > 50
    for url in urls:
        response = c.get(url)
        if url in open_to_all:
            assert response.status_code in (200, 302, 405), url
            continue
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/"), url


# --- R content and anonymous visitors -----------------------------------------------------------


@pytest.mark.parametrize("persona", ["anonymous", "stranger"])
def test_r_content_is_absent_for_pg_viewers(world, persona):
    """Anonymous visitors see PG only, and so does a member until they choose more."""
    r = world.rated
    c = world.client(persona)
    for url in ("/", "/?q=rated", "/u/mx-owner/", f"/collections/{world.extra['shelf'].pk}/"):
        html = c.get(url).content.decode()
        assert r.model.name not in html, url
        for media in r.media_urls:
            assert media not in html, url
    assert c.get(f"/images/{r.image.pk}/").status_code == 404
    for media in r.media_urls:
        assert c.get(media).status_code == 404
    assert r.model.pk not in _api_model_ids(c.get("/api/v1/models?query=rated"))
    assert r.image.pk not in _item_ids(_json(c.get("/api/v1/images?limit=200")))
    # The model's own page and API answer leave out its R pictures.
    page = c.get(r.model.get_absolute_url()).content.decode()
    for media in r.media_urls:
        assert media not in page
    if (answer := c.get(f"/api/v1/models/{r.model.pk}")).status_code == 200:
        images = [i["id"] for v in _json(answer)["modelVersions"] for i in v["images"]]
        assert r.image.pk not in images


def test_r_content_is_shown_to_its_owner(world):
    c = world.client("owner")
    assert c.get(f"/images/{world.rated.image.pk}/").status_code == 200
    for media in world.rated.media_urls:
        assert c.get(media).status_code == 200


def test_a_picture_a_moderator_hid_is_not_described_on_cards(world, client):
    model = ModelFactory(owner=world.users["owner"], name="Model lonely qx")
    version = VersionFactory(model=model)
    ImageFactory(
        version=version, nsfw_level=NsfwLevel.BLOCKED, staff_nsfw_level=NsfwLevel.BLOCKED,
        blurhash="LKO2hiddenBlurHash",
    )  # fmt: skip
    model_refresh_derived(model=model)
    html = client.get("/").content.decode()
    assert "Model lonely qx" in html
    assert "LKO2hiddenBlurHash" not in html


# --- The matrix covers the table -------------------------------------------------------------


def test_every_classified_route_is_exercised():
    exercised = (
        {call.route for call in CALLS}
        | {lc.route for lc in LIST_CALLS}
        | {oc.route for oc in OTHER_CALLS}
        | {route for route, *_rest in MODERATION_CALLS}
        | set(PUBLIC_PAGES)
        | set(OWN_PAGES)
    )
    assert set(ROUTES) - exercised == set()
