"""API keys (BAD_INPUTS rows 36 and 37): shown once, stored hashed, scoped, revocable,
expiring; a wrong key is a 401 with a JSON error, never a login page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from community.api_keys import KeyRefused, api_key_check, api_key_create, hash_key
from community.models import ApiKey
from moderation.checks.findings import RuleCode
from tests.moderation.conftest import make_moderator
from tests.moderation.test_queue import held_version, item_of

pytestmark = pytest.mark.django_db


def test_a_key_is_shown_once_and_only_its_hash_is_stored(client_for, owner):
    client = client_for(owner)
    page = client.post("/accounts/api-keys/", {"name": "notebook", "scopes": ["read", "download"]})
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    key = ApiKey.objects.get(user=owner)
    raw = page.context["new_key"]
    assert raw.startswith("mh_") and len(raw) > 40 and raw.encode() in page.content
    assert key.key_hash == hash_key(raw) and key.scopes == ["download", "read"]
    # A dump of the database holds nothing that works as the key.
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM community_apikey")
        row = " ".join(str(value) for value in cursor.fetchone())
    assert raw not in row and raw[10:30] not in row
    again = client.get("/accounts/api-keys/")
    assert raw.encode() not in again.content and key.prefix.encode() in again.content


def test_keys_are_refused_without_a_name_scope_or_moderator_rights(owner):
    for name, scopes, message in [
        ("", ["read"], "Name the key"),
        ("x", [], "Choose what the key may do"),
        ("x", ["root"], "Choose what the key may do"),
        ("x", ["moderate"], "Only moderators"),
    ]:
        with pytest.raises(KeyRefused, match=message):
            api_key_create(user=owner, name=name, scopes=scopes)
    assert not ApiKey.objects.exists()


def _moderator_key(scopes=("moderate",), **kwargs):
    moderator = make_moderator("keyholder")
    key, raw = api_key_create(user=moderator, name="bot", scopes=list(scopes), **kwargs)
    return moderator, key, raw


@pytest.mark.parametrize(
    "credentials",
    [
        {"HTTP_AUTHORIZATION": "Bearer nonsense"},
        {"HTTP_AUTHORIZATION": "Bearer mh_" + "A" * 43},
        {"QUERY_STRING": "token=mh_" + "B" * 43},
    ],
)
def test_a_malformed_or_unknown_key_is_a_401_with_a_json_error(credentials):
    response = Client().get("/api/moderation/queue", **credentials)
    assert response.status_code == 401 and response["Content-Type"] == "application/json"
    assert "error" in response.json() and "WWW-Authenticate" in response


def test_revoked_and_expired_keys_stop_working(client_for):
    moderator, key, raw = _moderator_key()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert Client().get("/api/moderation/queue", **bearer).status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = Client().get("/api/moderation/queue", **bearer)
    assert expired.status_code == 401 and expired.json() == {"error": "This API key has expired."}
    ApiKey.objects.filter(pk=key.pk).update(expires_at=None)
    client_for(moderator).post("/accounts/api-keys/", {"revoke": key.pk})
    revoked = Client().get(f"/api/moderation/queue?token={raw}")
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]


def test_a_key_works_through_the_moderation_api_only_with_its_scope():
    version = held_version()
    item = item_of(version)
    _, _, moderate = _moderator_key()
    claimed = Client().post(f"/api/moderation/items/{item.pk}/claim",
                            HTTP_AUTHORIZATION=f"Bearer {moderate}")  # fmt: skip
    assert claimed.status_code == 200  # no CSRF token needed: a key is not a cookie
    acted = Client().post(
        f"/api/moderation/items/{item.pk}/act",
        {"kind": "approve", "rule": RuleCode.LIKENESS, "reason": "A look-alike."},
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {moderate}",
    )  # fmt: skip
    assert acted.status_code == 200
    other = make_moderator("reader")
    _, read_only = api_key_create(user=other, name="r", scopes=["read"])
    refused = Client().get("/api/moderation/queue", HTTP_AUTHORIZATION=f"Bearer {read_only}")
    assert refused.status_code == 403 and "moderate" in refused.json()["error"]


def test_a_closed_account_keys_stop_working(owner):
    _, raw = api_key_create(user=owner, name="k", scopes=["read"])
    owner.is_active = False
    owner.save()
    with pytest.raises(Exception, match="closed"):
        api_key_check(raw)


def test_odd_numbers_on_the_key_page_are_ignored_or_refused_not_a_500(client_for, owner):
    client = client_for(owner)
    assert client.post("/accounts/api-keys/", {"revoke": "²"}).status_code == 302
    made = client.post("/accounts/api-keys/",
                       {"name": "k", "scopes": ["read"], "expires_in_days": "²"})  # fmt: skip
    assert made.status_code == 200 and ApiKey.objects.get().expires_at is None
    form = {"name": "k", "scopes": ["read"], "expires_in_days": "99999"}
    too_long = client.post("/accounts/api-keys/", form)
    assert too_long.status_code == 400 and b"1 to 3650 days" in too_long.content


def test_a_download_key_downloads_hidden_files_of_its_owner_and_nothing_else(owner):
    from django.core.files.base import ContentFile

    from models_hub.choices import Status
    from tests.factories import published_model

    model = published_model(owner=owner)
    version = model.versions.get()
    model_file = version.files.get()
    model_file.file.save("weights", ContentFile(b"w" * 100))
    type(version).objects.filter(pk=version.pk).update(status=Status.DRAFT)
    _, download = api_key_create(user=owner, name="d", scopes=["download"])
    _, read_only = api_key_create(user=owner, name="r", scopes=["read"])
    url = f"/api/download/models/{version.pk}"
    assert Client().get(url).status_code == 404  # a draft: nobody else sees it
    got = Client().get(f"{url}?token={download}")
    assert got.status_code == 200 and b"".join(got.streaming_content) == b"w" * 100
    assert Client().get(url, HTTP_AUTHORIZATION=f"Bearer {download}").status_code == 200
    refused = Client().get(f"{url}?token={read_only}")
    assert refused.status_code == 403 and "download" in refused.json()["error"]
    bad = Client().get(f"{url}?token=mh_{'z' * 43}")
    assert bad.status_code == 401 and bad.json() == {"error": "Unknown API key."}
    # And a download-only key does not read through the API.
    api = Client().get(f"/api/v1/model-versions/{version.pk}?token={download}")
    assert api.status_code == 403 and "read" in api.json()["error"]


def test_keys_can_be_made_for_uploads_but_not_for_made_up_scopes(owner):
    key, _ = api_key_create(user=owner, name="u", scopes=["upload"])
    assert key.scopes == ["upload"]
    with pytest.raises(KeyRefused, match="Choose what the key may do"):
        api_key_create(user=owner, name="x", scopes=["admin"])
