"""Civitai's v1 version endpoints: the shapes clients index, visibility, NSFW by the caller's
level, lookups by any of the six hashes, and errors as JSON (BAD_INPUTS rows 33, 34, 36)."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from community.api_keys import api_key_create
from models_hub.choices import NsfwLevel, Status
from models_hub.models import ModelFile
from tests.factories import ImageFactory, published_model

pytestmark = pytest.mark.django_db
SHA = hashlib.sha256(b"weights").hexdigest()


def _published_version():
    model = published_model(name="Velvet Dreams")
    version = model.versions.get()
    ModelFile.objects.filter(version=version).update(
        sha256=SHA, autov2=SHA[:10], crc32="0a1b2c3d", blake3="f" * 64, size_bytes=1_234_567
    )
    return version


def test_a_version_has_the_fields_clients_index():
    version = _published_version()
    body = Client().get(f"/api/v1/model-versions/{version.pk}").json()
    assert {"id", "modelId", "name", "baseModel", "trainedWords", "files", "images",
            "downloadUrl", "model", "stats", "publishedAt", "nsfwLevel"} <= set(body)  # fmt: skip
    assert body["model"]["name"] == "Velvet Dreams" and body["status"] == "Published"
    file = body["files"][0]
    assert file["sizeKB"] == 1_234_567 / 1024
    assert file["hashes"]["SHA256"] == SHA.upper() and file["hashes"]["AutoV2"] == SHA[:10].upper()
    assert file["downloadUrl"].startswith("http://testserver/api/download/models/")
    assert file["primary"] is True and file["pickleScanResult"] == "Success"
    assert body["downloadUrl"] == f"http://testserver/api/download/models/{version.pk}"


def test_a_version_and_its_images_read_the_same_in_any_language():
    version = _published_version()
    ImageFactory(version=version, image="images/2026/velvet.webp")
    english = Client().get(f"/api/v1/model-versions/{version.pk}").json()
    japanese = Client(headers={"accept-language": "ja"}).get(f"/api/v1/model-versions/{version.pk}")
    assert japanese.json() == english  # clients compare "status" and the image fields
    assert english["status"] == "Published"
    urls = [image["url"] for image in english["images"]]
    assert "http://testserver/media/images/2026/velvet.webp" in urls


@pytest.mark.parametrize("asked", [SHA, SHA.upper(), SHA[:10], "0A1B2C3D", "F" * 64])
def test_a_file_is_found_by_any_of_its_hashes_in_any_case(asked):
    version = _published_version()
    response = Client().get(f"/api/v1/model-versions/by-hash/{asked}")
    assert response.status_code == 200 and response.json()["id"] == version.pk


@pytest.mark.parametrize("asked", ["nothex!", "abc", "0" * 65])
def test_a_malformed_hash_is_a_400_and_an_unknown_one_a_404(asked):
    assert Client().get(f"/api/v1/model-versions/by-hash/{asked}").status_code == 400
    missing = Client().get(f"/api/v1/model-versions/by-hash/{'1' * 64}")
    assert missing.status_code == 404 and missing.json() == {"error": "Model not found"}


@pytest.mark.parametrize("status", [Status.DRAFT, Status.IN_REVIEW, Status.BLOCKED,
                                    Status.UNPUBLISHED, Status.DELETED])  # fmt: skip
def test_hidden_versions_are_404_by_id_and_by_hash_except_to_their_owner(status, client_for):
    version = _published_version()
    type(version).objects.filter(pk=version.pk).update(status=status)
    for client in (Client(), client_for(None)):
        by_id = client.get(f"/api/v1/model-versions/{version.pk}")
        assert by_id.status_code == 404 and by_id.json() == {
            "error": f"No version with id {version.pk}"
        }
        assert client.get(f"/api/v1/model-versions/by-hash/{SHA}").status_code == 404
    owner_sees = client_for(version.model.owner).get(f"/api/v1/model-versions/{version.pk}")
    assert owner_sees.status_code == (404 if status == Status.DELETED else 200)


def test_explicit_images_are_left_out_unless_the_callers_level_allows_them(owner):
    version = _published_version()
    explicit = ImageFactory(version=version, nsfw_level=NsfwLevel.X)
    anonymous = Client().get(f"/api/v1/model-versions/{version.pk}").json()
    assert explicit.pk not in [i["id"] for i in anonymous["images"]]
    owner.browsing_level = NsfwLevel.PG | NsfwLevel.PG13 | NsfwLevel.R | NsfwLevel.X
    owner.save()
    _, key = api_key_create(user=owner, name="k", scopes=["read"])
    with_key = Client().get(f"/api/v1/model-versions/{version.pk}?token={key}").json()
    assert explicit.pk in [i["id"] for i in with_key["images"]]
    assert [i["nsfw"] for i in with_key["images"] if i["id"] == explicit.pk] == [True]


def test_a_bad_key_is_a_401_even_on_a_public_endpoint():
    version = _published_version()
    response = Client().get(f"/api/v1/model-versions/{version.pk}",
                            HTTP_AUTHORIZATION="Bearer mh_" + "x" * 43)  # fmt: skip
    assert response.status_code == 401 and response.json() == {"error": "Unknown API key."}


def test_the_query_count_does_not_grow_with_files_and_images(django_assert_max_num_queries):
    version = _published_version()
    for _ in range(30):
        ImageFactory(version=version)
    with django_assert_max_num_queries(4):
        assert Client().get(f"/api/v1/model-versions/{version.pk}").status_code == 200


def test_the_primary_files_url_is_the_versions_own_and_others_name_their_file():
    # civitdl finds the file it downloaded, and its hashes, by this equality.
    version = _published_version()
    from tests.factories import FileFactory

    extra = FileFactory(version=version, is_primary=False)
    body = Client().get(f"/api/v1/model-versions/{version.pk}").json()
    primary, other = body["files"]
    assert primary["downloadUrl"] == body["downloadUrl"]
    assert other["downloadUrl"] == f"{body['downloadUrl']}?fileId={extra.pk}"


@pytest.mark.parametrize("empty", ["None", "null", "undefined"])
def test_a_client_with_no_key_that_sends_its_empty_variable_is_anonymous(empty):
    version = _published_version()
    response = Client().get(f"/api/v1/model-versions/{version.pk}",
                            HTTP_AUTHORIZATION=f"Bearer {empty}")  # fmt: skip
    assert response.status_code == 200
    download = Client().get(f"/api/download/models/{version.pk}", HTTP_AUTHORIZATION="Bearer None")
    assert download.status_code != 401


def test_a_version_shows_its_first_ten_images_in_gallery_order_and_the_images_list_all():
    """Civitai's imagesPerVersion: ten in a version, by hash and in a model alike."""
    version = _published_version()
    version.images.all().delete()
    # Gallery order is by position; created in reverse so id order would differ.
    images = [ImageFactory(version=version, position=14 - n) for n in range(14)]
    first_ten = [image.pk for image in sorted(images, key=lambda i: i.position)][:10]
    client = Client()
    by_id = client.get(f"/api/v1/model-versions/{version.pk}").json()
    by_hash = client.get(f"/api/v1/model-versions/by-hash/{SHA}").json()
    in_model = client.get(f"/api/v1/models/{version.model_id}").json()["modelVersions"][0]
    for shown in (by_id, by_hash, in_model):
        assert [image["id"] for image in shown["images"]] == first_ten
    listed = client.get(f"/api/v1/images?modelVersionId={version.pk}&limit=100").json()
    assert {image["id"] for image in listed["items"]} == {image.pk for image in images}


def test_an_images_meta_is_its_generation_parameters_without_the_raw_text():
    version = _published_version()
    version.images.all().delete()
    params = {
        "prompt": "a velvet castle",
        "steps": 20,
        "seed": 7,
        "raw": "a velvet castle\nSteps: 20",
    }
    described = ImageFactory(version=version, position=0, generation_params=params)
    raw_only = ImageFactory(version=version, position=1, generation_params={"raw": "text"})
    empty = ImageFactory(version=version, position=2, generation_params={})
    # Not an object (written by hand in the admin): no meta, and no error.
    odd = ImageFactory(version=version, position=3, generation_params=["a", "list"])
    want = {
        described.pk: {"prompt": "a velvet castle", "steps": 20, "seed": 7},
        raw_only.pk: None,
        empty.pk: None,
        odd.pk: None,
    }
    client = Client()
    by_id = client.get(f"/api/v1/model-versions/{version.pk}").json()["images"]
    in_list = client.get("/api/v1/models", {"ids": version.model_id}).json()["items"]
    in_list = in_list[0]["modelVersions"][0]["images"]
    listed = client.get(f"/api/v1/images?modelVersionId={version.pk}").json()["items"]
    for shown in (by_id, in_list, listed):
        assert {image["id"]: image["meta"] for image in shown} == want
