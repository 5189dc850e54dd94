"""The upload API, as a script uses it with an API key: a file through the resumable
protocol, then a model with its license, parents and images, then publication once the
checks pass. Refusals are the upload form's, as JSON; keys need the upload scope."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from community.api_keys import api_key_create
from models_hub.choices import Status
from models_hub.demo import make_image, make_safetensors
from models_hub.models import BaseModel, License, ModelVersion, VersionParent
from tests.factories import UserFactory, published_model

pytestmark = pytest.mark.django_db
WEIGHTS = make_safetensors(seed=21, tensors=12)


@pytest.fixture
def creator():
    return UserFactory(username="scripted")


@pytest.fixture
def key(creator) -> str:
    return api_key_create(user=creator, name="ci", scopes=["upload", "read"])[1]


def bearer(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def resumable_upload(key: str, content: bytes = WEIGHTS) -> str:
    """POST /api/uploads, PUT the bytes in two chunks, complete: the upload's id. A tool
    sends no CSRF token, so CSRF checks are on, as for a real client."""
    api = Client(enforce_csrf_checks=True)
    made = api.post("/api/uploads", {"filename": "tool.safetensors", "size": len(content),
                                     "sha256": hashlib.sha256(content).hexdigest()},
                    content_type="application/json", **bearer(key))  # fmt: skip
    assert made.status_code == 201, made.content
    upload_id, half = made.json()["id"], len(content) // 2
    for offset, chunk in ((0, content[:half]), (half, content[half:])):
        sent = api.put(f"/api/uploads/{upload_id}?offset={offset}", data=chunk,
                       content_type="application/octet-stream", **bearer(key))  # fmt: skip
        assert sent.status_code == 200, sent.content
    done = api.post(f"/api/uploads/{upload_id}/complete", **bearer(key))
    assert done.status_code == 200 and done.json()["state"] == "complete", done.content
    return upload_id


def new_model(**overrides) -> dict:
    body = {
        "name": "Scripted Style",
        "type": "LORA",
        "description": "Made by a *script*.",
        "tags": ["ink", "wash"],
        "version_name": "v1",
        "base_model": "SDXL 1.0",
        "trained_words": ["inkwash"],
        "nsfw_level": 1,
        "license": "creativeml-openrail-plus-plus-m",
        "allow_commercial_use": "Image",
        "allow_derivatives": True,
        "external_parents": [{"name": "Some Base", "hash": "ab" * 32}],
    }
    body.update(overrides)
    return body


def test_a_script_uploads_a_model_and_publishes_it_with_a_key(
    key, creator, django_capture_on_commit_callbacks
):
    upload_id = resumable_upload(key)
    api = Client(enforce_csrf_checks=True)
    with django_capture_on_commit_callbacks(execute=True):
        made = api.post("/api/v1/models", new_model(upload_ids=[upload_id]),
                        content_type="application/json", **bearer(key))  # fmt: skip
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["status"] == "Draft" and body["url"].startswith("http://testserver/models/")
    version = ModelVersion.objects.select_related("model").get(pk=body["versionId"])
    assert version.model.owner == creator and version.base_model.name == "SDXL 1.0"
    assert sorted(version.model.tags.values_list("name", flat=True)) == ["ink", "wash"]
    assert version.files.get().sha256 == hashlib.sha256(WEIGHTS).hexdigest()
    parent = VersionParent.objects.get(version=version)
    assert (parent.name, parent.external_hash) == ("Some Base", "ab" * 32)
    # A draft: not public, but its owner's key reads it.
    assert Client().get(body["apiUrl"]).status_code == 404
    assert api.get(body["apiUrl"], **bearer(key)).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        published = api.post(f"/api/v1/model-versions/{version.pk}/publish", **bearer(key))
    assert published.status_code == 200, published.content
    version.refresh_from_db()
    assert version.status == Status.PUBLISHED, version.hold_reason
    assert published.json() == {"versionId": version.pk, "status": "Published"}
    assert Client().get(body["apiUrl"]).json()["files"][0]["hashes"]["SHA256"] == (
        hashlib.sha256(WEIGHTS).hexdigest().upper()
    )


def test_files_and_images_can_come_in_one_multipart_request(
    key, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    # A parent under the same license and base model, so the lineage check lets it through.
    rail = License.objects.get(slug="creativeml-openrail-plus-plus-m")
    model = published_model(owner=UserFactory(username="other"), license=rail)
    parent = model.versions.get()
    ModelVersion.objects.filter(pk=parent.pk).update(
        base_model=BaseModel.objects.get(name="SDXL 1.0")
    )
    fields = new_model(publish="true", parent_version_ids=str(parent.pk))
    fields.pop("external_parents")
    fields["tags"], fields["trained_words"] = "ink,wash", "inkwash"
    with django_capture_on_commit_callbacks(execute=True):
        made = Client(enforce_csrf_checks=True).post(
            "/api/v1/models",
            {**fields, "model_files": SimpleUploadedFile("w.safetensors", WEIGHTS),
             "images": [SimpleUploadedFile("a.png", make_image(seed=3, size=(256, 320)))]},
            **bearer(key),
        )  # fmt: skip
    assert made.status_code == 201, made.content
    version = ModelVersion.objects.get(pk=made.json()["versionId"])
    assert version.images.count() == 1 and version.files.count() == 1
    assert version.parents.get().parent_version == parent
    assert version.status == Status.PUBLISHED, version.hold_reason


def test_a_new_version_goes_to_your_own_model_only(key, creator):
    mine = published_model(owner=creator)
    theirs = published_model(owner=UserFactory(username="someone"))
    body = {"version_name": "v2", "base_model": "sd-1-5", "nsfw_level": 1,
            "upload_ids": [resumable_upload(key)]}  # fmt: skip
    refused = Client().post(f"/api/v1/models/{theirs.pk}/versions", body,
                            content_type="application/json", **bearer(key))  # fmt: skip
    assert refused.status_code == 404
    made = Client().post(f"/api/v1/models/{mine.pk}/versions", body,
                         content_type="application/json", **bearer(key))  # fmt: skip
    assert made.status_code == 201, made.content
    assert made.json()["modelId"] == mine.pk and mine.versions.count() == 2


def test_a_refused_upload_says_which_field_and_creates_nothing(key):
    before = ModelVersion.objects.count()
    response = Client().post(
        "/api/v1/models",
        new_model(license="no-such-license", upload_ids=["not-a-uuid"], type="Nope"),
        content_type="application/json",
        **bearer(key),
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {"license", "upload_ids", "type"} <= set(errors)
    assert ModelVersion.objects.count() == before
    for body in ([None, None], ["a"], '"text"', "5"):  # schemathesis found a list was a 500
        wrong = Client().post("/api/v1/models", body, content_type="application/json",
                              **bearer(key))  # fmt: skip
        assert wrong.status_code == 400 and "JSON object" in wrong.json()["error"]
    # A license that forbids what the creator allows is refused as on the page.
    strict = Client().post("/api/v1/models", new_model(license="cc-by-nc-4.0",
                           allow_commercial_use="Sell", upload_ids=[resumable_upload(key)]),
                           content_type="application/json", **bearer(key))  # fmt: skip
    assert strict.status_code == 400 and "allow_commercial_use" in strict.json()["errors"]


def test_uploading_needs_a_key_with_the_upload_scope(creator):
    read_only = api_key_create(user=creator, name="r", scopes=["read"])[1]
    anonymous = Client().post("/api/v1/models", new_model(), content_type="application/json")
    assert anonymous.status_code == 401 and anonymous.json()["error"]
    scoped = Client().post("/api/v1/models", new_model(), content_type="application/json",
                           **bearer(read_only))  # fmt: skip
    assert scoped.status_code == 403 and "upload" in scoped.json()["error"]
    resumable = Client().post("/api/uploads", {"filename": "a.safetensors", "size": 10},
                              content_type="application/json", **bearer(read_only))  # fmt: skip
    assert resumable.status_code == 403
    assert Client().post("/api/uploads", {}, content_type="application/json").status_code == 401


def test_a_signed_in_page_still_needs_its_csrf_token(creator):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(creator)
    made = browser.post("/api/uploads", {"filename": "a.safetensors", "size": 10},
                        content_type="application/json")  # fmt: skip
    assert made.status_code == 403 and "CSRF" in made.json()["error"]
    api = browser.post("/api/v1/models", new_model(), content_type="application/json")
    assert api.status_code == 403


def test_a_version_staff_blocked_cannot_be_published_by_its_owner(key, creator):
    version = published_model(owner=creator).versions.get()
    ModelVersion.objects.filter(pk=version.pk).update(status=Status.BLOCKED)
    refused = Client().post(f"/api/v1/model-versions/{version.pk}/publish", **bearer(key))
    assert refused.status_code == 409 and "appeal" in refused.json()["error"]
    stranger_key = api_key_create(user=UserFactory(), name="s", scopes=["upload"])[1]
    other = Client().post(f"/api/v1/model-versions/{version.pk}/publish", **bearer(stranger_key))
    assert other.status_code == 404
