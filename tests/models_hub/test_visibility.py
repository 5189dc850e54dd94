"""Who sees what: every status of a model and version, for each kind of person, on every page."""

from __future__ import annotations

import pytest

from models_hub.choices import Status
from models_hub.models import Model, ModelFile, ModelVersion
from tests.factories import FileFactory, ImageFactory, ModelFactory, VersionFactory

pytestmark = pytest.mark.django_db

PEOPLE = ["anon", "owner", "stranger", "staff"]
# status -> who may see it (owner sees their own content in every state but deleted)
EXPECTED = {
    Status.PUBLISHED: {"anon", "owner", "stranger", "staff"},
    Status.DRAFT: {"owner", "staff"},
    Status.IN_REVIEW: {"owner", "staff"},
    Status.UNPUBLISHED: {"owner", "staff"},
    Status.BLOCKED: {"owner", "staff"},
    Status.DELETED: {"staff"},
}


@pytest.fixture
def people(owner, stranger, staff):
    return {"anon": None, "owner": owner, "stranger": stranger, "staff": staff}


def _model_in(status: str, owner) -> Model:
    model = ModelFactory(owner=owner, status=status, name=f"Subject {status}")
    version = VersionFactory(model=model, status=status)
    FileFactory(version=version)
    ImageFactory(version=version)
    return model


@pytest.mark.parametrize("status", list(EXPECTED))
@pytest.mark.parametrize("person", PEOPLE)
def test_model_page_visibility(status, person, people, client_for, owner):
    model = _model_in(status, owner)
    response = client_for(people[person]).get(model.get_absolute_url())
    assert response.status_code == (200 if person in EXPECTED[status] else 404)


@pytest.mark.parametrize("status", list(EXPECTED))
@pytest.mark.parametrize("person", PEOPLE)
def test_browse_lists_only_visible_models(status, person, people, client_for, owner):
    _model_in(status, owner)
    response = client_for(people[person]).get("/")
    assert response.status_code == 200
    listed = f"Subject {status}" in response.content.decode()
    # The grid is the public catalogue plus one's own work: staff reach hidden content
    # through its page (above), not mixed into browsing.
    assert listed == (person in EXPECTED[status] and person != "staff" or
                      person == "staff" and status == Status.PUBLISHED)  # fmt: skip


@pytest.mark.parametrize("status", list(EXPECTED))
@pytest.mark.parametrize("person", PEOPLE)
def test_download_visibility(status, person, people, client_for, owner, settings):
    model = _model_in(status, owner)
    version = model.versions.get()
    model_file = version.files.get()
    (settings.MEDIA_ROOT / "models/00").mkdir(parents=True)
    (settings.MEDIA_ROOT / model_file.file.name).write_bytes(b"x" * 1024)
    response = client_for(people[person]).get(f"/api/download/models/{version.pk}")
    if person in EXPECTED[status]:
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == b"x" * 1024
        assert ModelFile.objects.get(pk=model_file.pk).download_count == 1
    else:
        assert response.status_code == 404
        assert response.json() == {"error": f"No model version with id {version.pk}"}
        assert ModelFile.objects.get(pk=model_file.pk).download_count == 0


@pytest.mark.parametrize("person", PEOPLE)
def test_draft_version_of_published_model_is_hidden_from_strangers(
    person, people, client_for, owner, settings
):
    model = _model_in(Status.PUBLISHED, owner)
    draft = VersionFactory(model=model, status=Status.DRAFT, name="secret-draft")
    draft_file = FileFactory(version=draft)
    (settings.MEDIA_ROOT / "models/00").mkdir(parents=True)
    (settings.MEDIA_ROOT / draft_file.file.name).write_bytes(b"draft bytes")
    response = client_for(people[person]).get(model.get_absolute_url() + f"?version={draft.pk}")
    may_see = person in {"owner", "staff"}
    assert response.status_code == (200 if may_see else 404)
    listing = client_for(people[person]).get(model.get_absolute_url())
    assert ("secret-draft" in listing.content.decode()) == may_see
    download = client_for(people[person]).get(f"/api/download/models/{draft.pk}")
    assert download.status_code == (200 if may_see else 404)


def test_published_version_under_unpublished_model_is_hidden(client, owner):
    model = _model_in(Status.UNPUBLISHED, owner)
    ModelVersion.objects.filter(model=model).update(status=Status.PUBLISHED)
    version = model.versions.get()
    assert client.get(model.get_absolute_url()).status_code == 404
    assert client.get(f"/api/download/models/{version.pk}").status_code == 404


@pytest.mark.parametrize("person", PEOPLE)
def test_nsfw_model_above_browsing_level_is_not_listed(person, people, client_for, owner):
    ModelFactory(owner=owner, name="Mature one", nsfw_level=4)
    response = client_for(people[person]).get("/")
    # Everyone's default browsing level is PG, whatever their role.
    assert "Mature one" not in response.content.decode()


def test_model_files_are_not_served_as_public_media(client, owner, settings):
    model = _model_in(Status.DRAFT, owner)
    model_file = model.versions.get().files.get()
    (settings.MEDIA_ROOT / "models/00").mkdir(parents=True)
    (settings.MEDIA_ROOT / model_file.file.name).write_bytes(b"secret")
    assert client.get(f"/media/{model_file.file.name}").status_code == 404
    assert (
        client.get("/media/images/../models/00/" + model_file.file.name.split("/")[-1]).status_code
        == 404
    )
