from __future__ import annotations

import hashlib
import io
import os
import resource

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from models_hub.choices import JobStatus, Status
from models_hub.demo import make_image
from models_hub.models import GalleryImage, License, Model, ModelFile, VersionParent
from tests.factories import WEIGHTS, form_data, published_model

pytestmark = pytest.mark.django_db


def stored_files(media_root) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(d, f), media_root)
        for d, _, files in os.walk(media_root)
        for f in files
    )


@pytest.fixture
def creator_client(client_for, owner):
    return client_for(owner)


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/upload/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.post("/upload/", form_data()).status_code == 302
    assert not Model.objects.exists()


def test_upload_form_renders_for_a_signed_in_user(creator_client):
    response = creator_client.get("/upload/")
    assert response.status_code == 200
    assert 'name="model_files"' in response.content.decode()


def test_upload_creates_everything_and_publishes_after_processing(
    creator_client, owner, django_capture_on_commit_callbacks, settings
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = creator_client.post("/upload/", form_data())
    assert response.status_code == 302, response.content.decode()[:2000]
    # The file and image work, the checks, and (on publication) telling the followers.
    assert len(callbacks) == 3
    model = Model.objects.get()
    version = model.versions.get()
    assert response["Location"] == model.get_absolute_url() + f"?version={version.pk}"
    assert model.owner == owner and model.status == Status.PUBLISHED
    assert version.status == Status.PUBLISHED and version.published_at is not None
    assert version.trained_words == ["velvetstyle", "soft light"]
    assert sorted(model.tags.values_list("name", flat=True)) == ["dreamy", "pastel"]
    model_file = ModelFile.objects.get()
    assert model_file.name == "velvet.safetensors" and model_file.is_primary
    assert model_file.format == "SafeTensor" and model_file.precision == "fp16"
    assert model_file.size_bytes == len(WEIGHTS)
    assert model_file.hash_status == JobStatus.DONE
    assert model_file.sha256 == hashlib.sha256(WEIGHTS).hexdigest()
    # The storage key is generated, never the uploaded name.
    assert "velvet" not in model_file.file.name and model_file.file.name.startswith("models/")
    image = GalleryImage.objects.get()
    assert image.process_status == JobStatus.DONE and image.thumbnail.name.endswith(".webp")
    assert image.generation_params["seed"] == 1
    assert model.cover_image == image
    assert "velvetstyle" in model.search_document and owner.username in model.search_document


def test_upload_as_draft_stays_a_draft(creator_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = creator_client.post("/upload/", form_data(publish=None))
    assert response.status_code == 302
    model = Model.objects.get()
    assert model.status == Status.DRAFT and model.versions.get().status == Status.DRAFT
    assert ModelFile.objects.get().hash_status == JobStatus.DONE


def test_upload_records_parents(creator_client, django_capture_on_commit_callbacks):
    parent = published_model(name="Base mix").versions.get()
    data = form_data(
        parent_version_ids=f"{parent.pk}",
        external_parents="Some Mix | " + "ab" * 32 + " | https://example.org/mix\nOther Base",
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert creator_client.post("/upload/", data).status_code == 302
    parents = VersionParent.objects.filter(version__model__name="Velvet Dreams").order_by("id")
    assert [p.parent_version_id for p in parents] == [parent.pk, None, None]
    assert parents[1].name == "Some Mix" and parents[1].external_hash == "ab" * 32
    assert parents[2].name == "Other Base"


def test_json_client_gets_201_with_ids(creator_client):
    response = creator_client.post("/upload/", form_data(), HTTP_ACCEPT="application/json")
    assert response.status_code == 201
    assert response.json()["versionId"] == Model.objects.get().versions.get().pk


def png_named(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, make_image(seed=3, size=(64, 64)))


def gif_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "GIF")
    return out.getvalue()


BAD_INPUTS = {
    "missing license": ({"license": ""}, "license"),
    "unknown license": ({"license": "99999"}, "license"),
    "unknown base model": ({"base_model": "99999"}, "base_model"),
    "other license without link": (
        {"license": "OTHER", "license_other_text": "terms"},
        "license_other_url",
    ),
    "other license without text": (
        {"license": "OTHER", "license_other_url": "https://example.org/l"},
        "license_other_text",
    ),
    "sell on a non-commercial license": (
        {"license": "NC", "allow_commercial_use": "Sell"},
        "allow_commercial_use",
    ),
    "waiving credit the license requires": (
        {"license": "CCBY", "allow_no_credit": "on"},
        "allow_no_credit",
    ),
    "relicensing a share-alike license": (
        {"license": "CCBYSA", "allow_different_license": "on"},
        "allow_different_license",
    ),
    "parent that does not exist": ({"parent_version_ids": "987654"}, "parent_version_ids"),
    "parent that is not a version id": ({"parent_version_ids": "hello"}, "parent_version_ids"),
    "external parent with a bad hash": (
        {"external_parents": "Mix | not-a-hash!"},
        "external_parents",
    ),
    "no model file": ({"model_files": None}, "model_files"),
    "empty model file": (
        {"model_files": [SimpleUploadedFile("empty.safetensors", b"")]},
        "model_files",
    ),
    "disallowed extension": (
        {"model_files": [SimpleUploadedFile("run.exe", WEIGHTS)]},
        "model_files",
    ),
    "png renamed to ckpt": ({"model_files": [png_named("x.ckpt")]}, "model_files"),
    "image Pillow cannot open": (
        {"images": [SimpleUploadedFile("x.png", b"\x89PNG\r\n\x1a\nnot really")]},
        "images",
    ),
    "gif image": ({"images": [SimpleUploadedFile("x.gif", gif_bytes())]}, "images"),
    "name too long": ({"name": "n" * 201}, "name"),
    "description too long": ({"description": "d" * 50_001}, "description"),
    "unknown type": ({"type": "Nope"}, "type"),
    "unknown content rating": ({"nsfw_level": "32"}, "nsfw_level"),
}

LICENSE_ALIASES = {
    "OTHER": "other",
    "NC": "cc-by-nc-4.0",
    "CCBY": "cc-by-4.0",
    "CCBYSA": "cc-by-sa-4.0",
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
@pytest.mark.parametrize("wants_json", [False, True])
def test_bad_input_gets_a_field_error_and_leaves_nothing(
    case, wants_json, creator_client, settings
):
    overrides, field = BAD_INPUTS[case]
    overrides = dict(overrides)
    if overrides.get("license") in LICENSE_ALIASES:
        overrides["license"] = License.objects.get(slug=LICENSE_ALIASES[overrides["license"]]).pk
    for key in ("model_files", "images"):
        if overrides.get(key):  # fresh upload objects for every run of the case
            overrides[key] = [fresh(upload) for upload in overrides[key]]
    headers = {"HTTP_ACCEPT": "application/json"} if wants_json else {}
    response = creator_client.post("/upload/", form_data(**overrides), **headers)
    _assert_rejected(response, field, wants_json, settings)


def fresh(upload: SimpleUploadedFile) -> SimpleUploadedFile:
    upload.seek(0)
    return SimpleUploadedFile(upload.name, upload.read())


def _assert_rejected(response, field: str, wants_json: bool, settings) -> None:
    assert response.status_code == 400
    if wants_json:
        errors = response.json()["errors"]
        assert field in errors, errors
        assert errors[field][0]["message"]
    else:
        form = response.context["form"]
        assert field in form.errors, form.errors
        assert 'class="field has-error' in response.content.decode()
    assert not Model.objects.exists()
    assert not ModelFile.objects.exists()
    assert not GalleryImage.objects.exists()
    assert stored_files(settings.MEDIA_ROOT) == []


def test_service_failure_midway_removes_stored_files(creator_client, settings, monkeypatch):
    """A failure after files reached storage rolls back the rows and deletes the files."""
    from models_hub import services

    def explode(*, model):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "model_refresh_search_document", explode)
    creator_client.raise_request_exception = True
    with pytest.raises(RuntimeError, match="disk on fire"):
        creator_client.post("/upload/", form_data())
    assert not Model.objects.exists() and not ModelFile.objects.exists()
    assert stored_files(settings.MEDIA_ROOT) == []


def test_a_parent_linked_on_another_site_is_not_taken_for_ours(creator_client, stranger):
    # Civitai's model pages have our path: its model N is not our model N.
    ours = published_model(owner=stranger).versions.get()
    for link in (f"https://civitai.com/models/{ours.model_id}/x?version={ours.pk}",
                 f"https://civitai.com/models/{ours.model_id}"):  # fmt: skip
        response = creator_client.post("/upload/", form_data(parent_version_ids=link))
        assert response.status_code == 400
        assert "on this hub" in str(response.context["form"].errors["parent_version_ids"])
    own_link = f"http://127.0.0.1:8000/models/{ours.model_id}/x/?version={ours.pk}"
    assert (
        creator_client.post("/upload/", form_data(parent_version_ids=own_link)).status_code == 302
    )


def test_cannot_name_another_users_draft_as_parent(creator_client, stranger):
    draft = published_model(owner=stranger, status=Status.DRAFT).versions.get()
    response = creator_client.post("/upload/", form_data(parent_version_ids=str(draft.pk)))
    assert response.status_code == 400
    assert "parent_version_ids" in response.context["form"].errors
    assert Model.objects.count() == 1  # only the stranger's draft


VERSION_FIELDS = {
    "version_name", "base_model", "trained_words", "version_description", "nsfw_level",
    "parent_version_ids", "external_parents", "publish", "model_files", "images",
}  # fmt: skip


def version_form_data(**overrides) -> dict:
    data = {k: v for k, v in form_data(**overrides).items() if k in VERSION_FIELDS}
    data["version_name"] = overrides.get("version_name", "v2.0")
    return data


def test_owner_adds_a_version_to_a_published_model(
    creator_client, owner, django_capture_on_commit_callbacks
):
    model = published_model(
        owner=owner, download_count=77, license=License.objects.get(slug="creativeml-openrail-m")
    )
    url = f"/models/{model.pk}/versions/new/"
    assert creator_client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = creator_client.post(url, version_form_data())
    assert response.status_code == 302
    new = model.versions.get(name="v2.0")
    assert response["Location"].endswith(f"?version={new.pk}")
    assert new.status == Status.PUBLISHED
    model.refresh_from_db()
    assert model.versions.count() == 2 and model.download_count == 77
    html = creator_client.get(model.get_absolute_url()).content.decode()
    assert "v2.0" in html and "Add a version" in html


@pytest.mark.parametrize("person", ["anon", "stranger", "staff"])
def test_only_the_owner_can_add_a_version(person, client_for, owner, stranger, staff):
    model = published_model(owner=owner)
    user = {"anon": None, "stranger": stranger, "staff": staff}[person]
    url = f"/models/{model.pk}/versions/new/"
    expected = 302 if user is None else 404
    assert client_for(user).get(url).status_code == expected
    assert client_for(user).post(url, version_form_data()).status_code == expected
    assert model.versions.count() == 1
    assert "Add a version" not in client_for(user).get(model.get_absolute_url()).content.decode()


def test_bad_version_upload_leaves_nothing(creator_client, owner, settings):
    model = published_model(owner=owner)
    response = creator_client.post(
        f"/models/{model.pk}/versions/new/",
        version_form_data(model_files=[png_named("x.safetensors")]),
    )
    assert response.status_code == 400
    assert "model_files" in response.context["form"].errors
    assert model.versions.count() == 1
    assert stored_files(settings.MEDIA_ROOT) == []


def test_a_full_temporary_disk_while_the_form_arrives_is_a_503_that_keeps_nothing(
    creator_client, settings, tmp_path, disk_that_fills_at
):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    os.mkdir(settings.FILE_UPLOAD_TEMP_DIR)
    big = os.urandom(3 * 1024 * 1024)  # past FILE_UPLOAD_MAX_MEMORY_SIZE: goes to a temp file
    data = form_data(model_files=[SimpleUploadedFile("velvet.safetensors", big)])
    disk_that_fills_at(1024 * 1024)
    try:
        response = creator_client.post("/upload/", data)
    finally:
        disk_that_fills_at(resource.RLIM_INFINITY)
    assert response.status_code == 503 and response["Retry-After"] == "600"
    assert b"ran out of disk space" in response.content
    assert os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []
    assert not Model.objects.exists() and stored_files(settings.MEDIA_ROOT) == []
