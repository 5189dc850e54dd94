"""Civitai's v1 list endpoints: /models (page and cursor), /models/{id}, /images, /creators,
/tags and the batch by-hash lookup. Shapes clients index, lenient parsing, 400s for bad input
(BAD_INPUTS row 33), nothing hidden in any list (row 34), NSFW within the caller's level."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from community.api_keys import api_key_create
from models_hub.choices import CommercialUse, ModelType, NsfwLevel, Status
from models_hub.models import BaseModel, Model, ModelFile
from tests.factories import (
    FileFactory,
    ImageFactory,
    TagFactory,
    UserFactory,
    VersionFactory,
    published_model,
)

pytestmark = pytest.mark.django_db
EVERY_LEVEL = NsfwLevel.PG | NsfwLevel.PG13 | NsfwLevel.R | NsfwLevel.X | NsfwLevel.XXX


def _get(path: str, client: Client | None = None, **params):
    response = (client or Client()).get(path, params)
    return response


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def _key_for(user, level: int = EVERY_LEVEL) -> str:
    user.browsing_level = level
    user.save(update_fields=["browsing_level"])
    _, key = api_key_create(user=user, name="tool", scopes=["read", "download"])
    return key


@pytest.fixture
def catalogue():
    """Five published models, downloads 50..10, published a day apart (m[0] newest)."""
    now = timezone.now()
    models = []
    for i in range(5):
        model = published_model(name=f"Model {i}", download_count=50 - 10 * i)
        Model.objects.filter(pk=model.pk).update(published_at=now - timedelta(days=i))
        models.append(model)
    return models


def test_a_listed_model_has_the_fields_clients_index(catalogue):
    tagged = catalogue[0]
    tagged.tags.add(TagFactory(name="anime"))
    body = _get("/api/v1/models", sort="Newest").json()
    item = body["items"][0]
    assert item["id"] == tagged.pk and item["tags"] == ["anime"]
    assert {"id", "name", "description", "type", "nsfw", "nsfwLevel", "poi", "allowNoCredit",
            "allowCommercialUse", "allowDerivatives", "allowDifferentLicense", "stats",
            "creator", "tags", "modelVersions"} <= set(item)  # fmt: skip
    assert item["allowCommercialUse"] == ["Image"] and item["type"] == "LORA"
    assert item["creator"]["username"] == tagged.owner.username
    assert item["stats"]["downloadCount"] == 50
    version = item["modelVersions"][0]
    assert version["files"][0]["downloadUrl"].startswith("http://testserver/api/download/")
    assert version["images"][0]["url"].startswith("http://testserver/")
    assert body["metadata"] == {"totalItems": 5, "currentPage": 1, "pageSize": 100,
                                "totalPages": 1}  # fmt: skip
    paged = _get("/api/v1/models", limit=2).json()["metadata"]
    assert paged["nextPage"] == "http://testserver/api/v1/models?limit=2&page=2"
    assert paged["nextCursor"]  # a client may go on by cursor from a numbered page


@pytest.mark.parametrize(
    ("sort", "expected"),
    [("Newest", [0, 1, 2, 3, 4]), ("Oldest", [4, 3, 2, 1, 0]),
     ("Most Downloaded", [0, 1, 2, 3, 4]), ("most downloaded", [0, 1, 2, 3, 4])],
)  # fmt: skip
def test_pages_and_cursors_walk_the_whole_list_once_in_order(catalogue, sort, expected):
    want = [catalogue[i].pk for i in expected]
    seen, page = [], 1
    while True:
        body = _get("/api/v1/models", sort=sort, limit=2, page=page).json()
        seen += [item["id"] for item in body["items"]]
        assert body["metadata"]["totalPages"] == 3
        if "nextPage" not in body["metadata"]:
            break
        assert body["metadata"]["nextPage"].startswith("http://testserver/api/v1/models?")
        page += 1
    assert seen == want

    seen, cursor = [], None
    for _ in range(10):
        params = {"sort": sort, "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = _get("/api/v1/models", **params).json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["metadata"].get("nextCursor")
        if not cursor:
            break
        if "cursor" in params:  # by cursor, nextPage goes on by cursor
            assert f"cursor={cursor}" in body["metadata"]["nextPage"]
    assert seen == want


def test_a_cursor_walk_is_not_thrown_by_ties(catalogue):
    Model.objects.update(download_count=7)
    ids = set()
    body = _get("/api/v1/models", sort="Most Downloaded", limit=2).json()
    ids |= {item["id"] for item in body["items"]}
    while cursor := body["metadata"].get("nextCursor"):
        body = _get("/api/v1/models", sort="Most Downloaded", limit=2, cursor=cursor).json()
        ids |= {item["id"] for item in body["items"]}
    assert ids == {m.pk for m in catalogue}


def test_a_text_query_is_searched_and_paged_by_cursor(catalogue):
    Model.objects.filter(pk=catalogue[2].pk).update(search_document="Model 2 watercolor")
    body = _get("/api/v1/models", query="watercolor").json()
    assert [item["id"] for item in body["items"]] == [catalogue[2].pk]
    assert "totalItems" not in body["metadata"]  # cursor-based, as Civitai's query search
    walked = _get("/api/v1/models", query="model", limit=3).json()
    assert len(walked["items"]) == 3 and walked["metadata"]["nextCursor"]
    rest = _get("/api/v1/models", query="model", limit=3, cursor=walked["metadata"]["nextCursor"])
    assert len(_ids(rest)) == 2
    assert set(_ids(rest)) | {i["id"] for i in walked["items"]} == {m.pk for m in catalogue}


def test_filters_as_clients_send_them(catalogue):
    first, second, third = catalogue[:3]
    Model.objects.filter(pk=first.pk).update(type=ModelType.CHECKPOINT)
    Model.objects.filter(pk=second.pk).update(
        allow_commercial_use=CommercialUse.SELL, allow_no_credit=True, allow_different_license=True
    )
    Model.objects.filter(pk=third.pk).update(allow_commercial_use=CommercialUse.NONE)
    first.tags.add(TagFactory(name="Scenery"))
    sdxl = BaseModel.objects.get(slug="sdxl-1-0")
    second.versions.update(base_model=sdxl)

    assert _ids(_get("/api/v1/models", types="Checkpoint")) == [first.pk]
    assert set(_ids(_get("/api/v1/models", types="Checkpoint,LORA"))) == {m.pk for m in catalogue}
    assert _ids(_get("/api/v1/models", **{"types[]": "checkpoint"})) == [first.pk]
    assert _ids(_get("/api/v1/models", tag="scenery")) == [first.pk]
    assert _ids(_get("/api/v1/models", username=first.owner.username.upper())) == [first.pk]
    assert _ids(_get("/api/v1/models", baseModels=sdxl.name)) == [second.pk]
    assert _ids(_get("/api/v1/models", allowCommercialUse="Sell")) == [second.pk]
    assert set(_ids(_get("/api/v1/models", allowCommercialUse="RentCivit"))) == {second.pk}
    assert _ids(_get("/api/v1/models", allowCommercialUse="None")) == [third.pk]
    assert _ids(_get("/api/v1/models", allowNoCredit="true")) == [second.pk]
    assert _ids(_get("/api/v1/models", allowDifferentLicenses="true")) == [second.pk]
    assert _ids(_get("/api/v1/models", allowDifferentLicense="1")) == [second.pk]
    assert set(_ids(_get("/api/v1/models", ids=f"{first.pk},{third.pk}"))) == {
        first.pk, third.pk
    }  # fmt: skip
    assert _ids(_get("/api/v1/models", period="Day", sort="Newest")) == [first.pk]
    assert len(_ids(_get("/api/v1/models", pageSize=2))) == 2
    second_item = _get("/api/v1/models", ids=second.pk).json()["items"][0]
    assert second_item["allowCommercialUse"] == ["Image", "RentCivit", "Rent", "Sell"]


def test_primary_file_only_leaves_the_other_files_out(catalogue):
    version = catalogue[0].versions.get()
    FileFactory(version=version, is_primary=False, name="extra.yaml")
    both = _get("/api/v1/models", ids=catalogue[0].pk).json()["items"][0]
    one = _get("/api/v1/models", ids=catalogue[0].pk, primaryFileOnly="true").json()["items"][0]
    assert len(both["modelVersions"][0]["files"]) == 2
    assert [f["primary"] for f in one["modelVersions"][0]["files"]] == [True]


@pytest.mark.parametrize(
    "params",
    [{"types": "Nope"}, {"limit": "-1"}, {"limit": "10000"}, {"limit": "ten"},
     {"cursor": "garbage"}, {"cursor": "W10"}, {"cursor": "WyJ4Il0"}, {"page": "0"},
     {"page": "abc"}, {"sort": "Bogus"}, {"period": "Decade"}, {"nsfw": "maybe"},
     {"ids": "abc"}, {"ids": "-4"}, {"baseModels": "SD 9"}, {"allowNoCredit": "perhaps"},
     {"allowCommercialUse": "Free"}, {"browsingLevel": "999"}, {"query": "x" * 201},
     {"username": "a\x00b"}, {"query": "\x00"}, {"tag": "x\x00"}, {"types": "LORA,\x00"}],
)  # fmt: skip
def test_bad_parameters_are_a_400_that_names_them(catalogue, params):
    response = _get("/api/v1/models", **params)
    assert response.status_code == 400
    name = next(iter(params))
    assert name in response.json()["error"]


def test_a_forged_keyset_cursor_of_the_wrong_shape_is_a_400(catalogue):
    from models_hub.keyset import encode_cursor

    for values in (["2020-01-01", 3], [3, 4], [None, 1], ["2026-01-01T00:00:00+00:00"]):
        response = _get("/api/v1/models", sort="Newest", cursor=encode_cursor(values))
        assert response.status_code == 400, values


def test_favourites_need_a_key():
    response = _get("/api/v1/models", favorites="true")
    assert response.status_code == 401 and "favorites" in response.json()["error"]


@pytest.mark.parametrize("status", [Status.DRAFT, Status.IN_REVIEW, Status.UNPUBLISHED,
                                    Status.BLOCKED, Status.DELETED])  # fmt: skip
def test_hidden_models_and_versions_are_in_no_list_and_404_by_id(catalogue, status):
    hidden_model, hidden_version_of = catalogue[0], catalogue[1]
    Model.objects.filter(pk=hidden_model.pk).update(status=status)
    hidden_version_of.versions.update(status=status)
    stranger = UserFactory(username="nosy")
    for client in (Client(), Client()):
        listed = _ids(_get("/api/v1/models", client, limit=100))
        assert hidden_model.pk not in listed and hidden_version_of.pk not in listed
        for model in (hidden_model, hidden_version_of):
            detail = _get(f"/api/v1/models/{model.pk}", client)
            assert detail.status_code == 404
            assert detail.json() == {"error": f"No model with id {model.pk}"}
        client.force_login(stranger)
    images = _get("/api/v1/images").json()["items"]
    assert {i["modelVersionId"] for i in images}.isdisjoint(
        {v.pk for m in (hidden_model, hidden_version_of) for v in m.versions.all()}
    )
    owner = Client()
    owner.force_login(hidden_model.owner)
    expected = 404 if status == Status.DELETED else 200
    assert _get(f"/api/v1/models/{hidden_model.pk}", owner).status_code == expected


def test_a_banned_members_models_leave_every_list(catalogue):
    banned = catalogue[0].owner
    banned.is_active = False
    banned.save()
    assert catalogue[0].pk not in _ids(_get("/api/v1/models"))
    assert banned.username not in [c["username"] for c in _get("/api/v1/creators").json()["items"]]
    assert _get(f"/api/v1/models/{catalogue[0].pk}").status_code == 404


def test_nsfw_goes_only_as_far_as_asked_and_as_the_callers_level_allows(catalogue):
    explicit = catalogue[0]
    Model.objects.filter(pk=explicit.pk).update(nsfw_level=NsfwLevel.PG | NsfwLevel.X)
    version = explicit.versions.get()
    x_image = ImageFactory(version=version, nsfw_level=NsfwLevel.X)

    assert explicit.pk not in _ids(_get("/api/v1/models"))
    # Asking is not enough: an anonymous caller's level is PG.
    assert explicit.pk not in _ids(_get("/api/v1/models", nsfw="true"))
    key = _key_for(UserFactory(username="adult"))
    assert explicit.pk not in _ids(_get("/api/v1/models", token=key))  # PG unless asked
    assert explicit.pk not in _ids(_get("/api/v1/models", token=key, nsfw="Mature"))
    listed = _get("/api/v1/models", token=key, nsfw="true").json()["items"]
    assert explicit.pk in [m["id"] for m in listed]
    item = next(m for m in listed if m["id"] == explicit.pk)
    assert x_image.pk in [i["id"] for i in item["modelVersions"][0]["images"]]
    assert item["nsfw"] is True

    # The same key with a PG-13 preference: asking for X gets PG-13 at most.
    limited = _key_for(UserFactory(username="careful"), NsfwLevel.PG | NsfwLevel.PG13)
    assert explicit.pk not in _ids(_get("/api/v1/models", token=limited, nsfw="X"))

    # The detail shows the model, with only the images the caller's level allows.
    anonymous = _get(f"/api/v1/models/{explicit.pk}").json()
    assert x_image.pk not in [i["id"] for i in anonymous["modelVersions"][0]["images"]]

    anonymous_images = [i["id"] for i in _get("/api/v1/images", nsfw="X").json()["items"]]
    assert x_image.pk not in anonymous_images
    with_key = _get("/api/v1/images", token=key, nsfw="X").json()["items"]
    shown = next(i for i in with_key if i["id"] == x_image.pk)
    assert shown["nsfwLevel"] == "X" and shown["browsingLevel"] == NsfwLevel.X
    assert shown["nsfw"] is True


def test_the_query_count_does_not_grow_with_limit(
    catalogue, django_assert_num_queries, django_capture_on_commit_callbacks
):
    for model in catalogue:
        version = model.versions.get()
        VersionFactory(model=model)
        for _ in range(3):
            ImageFactory(version=version)
        model.tags.add(TagFactory(name=f"t{model.pk}"))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for limit in (1, 100):
        with CaptureQueriesContext(connection) as queries:
            assert _get("/api/v1/models", limit=limit).status_code == 200
        counts[limit] = len(queries)
    # models, their count, tags, versions, files, images.
    assert counts[1] == counts[100] == 6

    for path in ("/api/v1/images", "/api/v1/creators", "/api/v1/tags"):
        sizes = []
        for limit in (1, 100):
            with CaptureQueriesContext(connection) as queries:
                assert _get(path, limit=limit).status_code == 200
            sizes.append(len(queries))
        assert sizes[0] == sizes[1] <= 2, path


def test_images_are_paged_by_cursor_and_filtered(catalogue):
    version = catalogue[1].versions.get()
    extra = [ImageFactory(version=version) for _ in range(4)]
    in_model = _ids(_get("/api/v1/images", modelId=catalogue[1].pk))
    assert set(in_model) == {i.pk for i in extra} | {catalogue[1].cover_image_id}
    assert _ids(_get("/api/v1/images", modelVersionId=version.pk)) == in_model
    assert set(_ids(_get("/api/v1/images", username=catalogue[1].owner.username))) == set(in_model)
    walked, body = [], _get("/api/v1/images", limit=3).json()
    walked += [i["id"] for i in body["items"]]
    while cursor := body["metadata"].get("nextCursor"):
        body = _get("/api/v1/images", limit=3, cursor=cursor).json()
        walked += [i["id"] for i in body["items"]]
    assert walked == sorted(walked, reverse=True) and len(walked) == len(set(walked)) == 9
    oldest = _ids(_get("/api/v1/images", sort="Oldest", limit=0))
    assert oldest == sorted(walked)
    assert _get("/api/v1/images", limit=201).status_code == 400
    assert _ids(_get("/api/v1/images", postId=1)) == []


def test_creators_and_tags_count_only_published_models(catalogue):
    maker = catalogue[0].owner
    published_model(owner=maker, name="Second")
    published_model(owner=maker, name="Draft", status=Status.DRAFT)
    for model in catalogue[:2]:
        model.tags.add(TagFactory(name="portrait"))
    Model.objects.filter(pk=catalogue[1].pk).update(status=Status.BLOCKED)
    TagFactory(name="unused")

    people = _get("/api/v1/creators", query=maker.username).json()
    assert people["items"][0] == {
        "username": maker.username,
        "modelCount": 2,
        "link": f"http://testserver/api/v1/models?username={maker.username}",
        "image": None,
    }
    assert people["metadata"]["totalItems"] == 1
    tags = {t["name"]: t for t in _get("/api/v1/tags").json()["items"]}
    assert tags["portrait"]["modelCount"] == 1 and "unused" not in tags
    assert tags["portrait"]["link"] == "http://testserver/api/v1/models?tag=portrait"
    assert _get("/api/v1/tags", limit=1, page=2).json()["metadata"]["currentPage"] == 2


def test_a_batch_of_hashes_finds_the_versions_the_caller_may_see(catalogue):
    shas = []
    for i, model in enumerate(catalogue):
        sha = f"{i:02d}" * 32
        ModelFile.objects.filter(version__model=model).update(sha256=sha)
        shas.append(sha)
    catalogue[4].versions.update(status=Status.BLOCKED)
    response = Client().post(
        "/api/v1/model-versions/by-hash",
        [shas[0].upper(), shas[3], shas[4], "ff" * 32],
        content_type="application/json",
    )
    assert response.status_code == 200
    assert sorted(v["modelId"] for v in response.json()) == sorted(
        [catalogue[0].pk, catalogue[3].pk]
    )
    for bad in ({"hash": shas[0]}, ["zz"], [1, 2], ["a" * 64] * 101):
        refused = Client().post("/api/v1/model-versions/by-hash", bad,
                                content_type="application/json")  # fmt: skip
        assert refused.status_code == 400 and refused.json()["error"]
    garbled = Client().post("/api/v1/model-versions/by-hash", "[not json",
                            content_type="application/json")  # fmt: skip
    assert garbled.status_code == 400 and garbled.json()["error"]
