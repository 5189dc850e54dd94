"""Anonymous answers of the read API kept in the cache (models_hub/api/answers.py): the same
bytes again within the minute, never to a caller with a key or a session, and retired the
moment public content changes, whether by a save or by a moderator's UPDATE."""

from __future__ import annotations

import pytest
from django.test import Client

from community.api_keys import api_key_create
from models_hub.choices import Status
from models_hub.models import Model
from moderation import queue, reports
from moderation.checks.findings import RuleCode
from moderation.models import Appeal, ModerationAction, QueueItem, Rule
from tests.factories import UserFactory, VersionFactory, published_model
from tests.moderation.conftest import make_moderator

pytestmark = pytest.mark.django_db
Kind = ModerationAction.Kind
LIST = "/api/v1/models"


@pytest.fixture
def answers_kept(settings, memory_cache):
    """Answers kept a minute (in one process's memory, the stamp is shared)."""
    settings.HUB_API_ANSWER_CACHE_SECONDS = 60


def _downloads(response, model_id: int) -> int:
    assert response.status_code == 200, response.content
    items = response.json()["items"]
    return next(m["stats"]["downloadCount"] for m in items if m["id"] == model_id)


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def test_an_anonymous_answer_is_kept_and_counters_may_be_a_minute_old(answers_kept):
    model = published_model()
    first = Client().get(LIST)
    # Counters are written with UPDATE: they do not retire kept answers.
    Model.objects.filter(pk=model.pk).update(download_count=41)
    again = Client().get(LIST)
    assert again.content == first.content and _downloads(again, model.pk) == 0
    assert again["Content-Type"] == "application/json" and again["Allow"].startswith("GET")
    assert again["Cache-Control"] == "public, max-age=60" and "Authorization" in again["Vary"]


def test_nothing_is_kept_when_turned_off(settings):
    settings.HUB_API_ANSWER_CACHE_SECONDS = 0
    model = published_model()
    Client().get(LIST)
    Model.objects.filter(pk=model.pk).update(download_count=41)
    assert _downloads(Client().get(LIST), model.pk) == 41


def test_callers_with_a_key_get_their_own_answer(answers_kept):
    owner = UserFactory()
    public = published_model(owner=owner)
    draft = VersionFactory(model=public, status=Status.DRAFT, published_at=None)
    _, key = api_key_create(user=owner, name="tool", scopes=["read"])
    path = f"/api/v1/model-versions/{draft.pk}"
    assert Client().get(path).status_code == 404
    assert Client().get(path, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    # And what a key's caller was answered is not kept for anonymous callers either.
    Client().get(LIST, HTTP_AUTHORIZATION=f"Bearer {key}")
    Model.objects.filter(pk=public.pk).update(download_count=7)
    assert _downloads(Client().get(LIST), public.pk) == 7


def test_a_takedown_saved_retires_kept_answers_at_once(
    answers_kept, django_capture_on_commit_callbacks
):
    kept_model, taken_down = published_model(), published_model()
    version = taken_down.versions.get()
    paths = [LIST, f"/api/v1/models/{taken_down.pk}", f"/api/v1/model-versions/{version.pk}"]
    assert sorted(_ids(Client().get(LIST))) == sorted([kept_model.pk, taken_down.pk])
    assert [Client().get(path).status_code for path in paths[1:]] == [200, 200]
    with django_capture_on_commit_callbacks(execute=True):
        version.status = Status.BLOCKED
        version.save(update_fields=["status"])
    assert _ids(Client().get(LIST)) == [kept_model.pk]
    assert [Client().get(path).status_code for path in paths[1:]] == [404, 404]


def test_an_answer_made_before_the_change_commits_is_not_kept_as_current(answers_kept):
    """The stamp changes when the transaction commits, not when the row is saved: an answer
    made in between (from what was committed before) stays under the old stamp."""
    model = published_model()
    Client().get(LIST)
    model.owner.is_active = False
    model.owner.save(update_fields=["is_active"])  # not committed yet: no new stamp
    Model.objects.filter(pk=model.pk).update(download_count=3)
    assert _downloads(Client().get(LIST), model.pk) == 0, "still the kept answer"


def test_a_ban_lifted_by_update_shows_the_members_models_again(
    answers_kept, django_capture_on_commit_callbacks
):
    """Overturning a ban on appeal writes is_active with UPDATE (no signal): the moderation
    service retires the kept answers itself."""
    alice, bob = make_moderator("alice"), make_moderator("bob")
    model = published_model()
    owner = model.owner
    reports.report_create(
        reporter=UserFactory(), rule=Rule.objects.get(code=RuleCode.SPAM), user=owner
    )
    item = QueueItem.objects.get(source="report", target_user=owner)
    queue.item_claim(item_id=item.pk, moderator=alice)
    assert _ids(Client().get(LIST)) == [model.pk]
    with django_capture_on_commit_callbacks(execute=True):
        ban = queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.BAN,
                             rule=Rule.objects.get(code=RuleCode.SPAM), reason="Spam.")  # fmt: skip
    assert _ids(Client().get(LIST)) == []
    appeal = queue.appeal_create(action=ban, appellant=owner, statement="Not spam.")
    queue.item_claim(item_id=appeal.item_id, moderator=bob)
    with django_capture_on_commit_callbacks(execute=True):
        queue.item_act(item_id=appeal.item_id, moderator=bob, kind=Kind.OVERTURN,
                       rule=Rule.objects.get(code=RuleCode.SPAM), reason="It was not.")  # fmt: skip
    assert Appeal.objects.get(pk=appeal.pk).item.state == "closed"
    assert _ids(Client().get(LIST)) == [model.pk]


def test_directory_pages_keep_their_own_page_not_the_answer_again(answers_kept):
    """Creators and tags keep their page by address (HUB_LIST_CACHE_SECONDS, off here);
    keeping the answer too would hold a page made before a change under the new stamp."""
    model = published_model()
    assert [c["username"] for c in Client().get("/api/v1/creators").json()["items"]] == [
        model.owner.username
    ]
    type(model.owner).objects.filter(pk=model.owner_id).update(is_active=False)
    assert Client().get("/api/v1/creators").json()["items"] == []


def test_with_the_cache_away_answers_are_made_every_time(settings, redis_down):
    settings.HUB_API_ANSWER_CACHE_SECONDS = 60
    model = published_model()
    assert _ids(Client().get(LIST)) == [model.pk]
    Model.objects.filter(pk=model.pk).update(download_count=5)
    assert _downloads(Client().get(LIST), model.pk) == 5
