"""Regressions found in review: each test names the hole it keeps closed."""

from __future__ import annotations

import collections
import io
import json
import pickle
import struct

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from models_hub import services, tasks
from models_hub.choices import JobStatus, NsfwLevel, Status
from models_hub.demo import make_image, make_safetensors
from models_hub.formats.pickles import SCANNER_VERSION
from models_hub.models import GalleryImage, Model, ModelFile, ModelVersion
from tests.factories import FileFactory, ImageFactory, VersionFactory, form_data, published_model
from tests.models_hub.test_upload import stored_files

pytestmark = pytest.mark.django_db

# A protocol-2 pickle calling posix.system: built by hand, never loaded.
EVIL_PICKLE = b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."


def test_dangerous_pickle_is_quarantined_and_its_version_blocked(
    client_for, owner, staff, django_capture_on_commit_callbacks, tmp_path
):
    canary = tmp_path / "canary"
    payload = f"touch {canary}".encode()
    evil = (
        b"\x80\x02cposix\nsystem\nq\x00X" + struct.pack("<I", len(payload)) + payload
        + b"q\x01\x85q\x02Rq\x03."
    )  # fmt: skip
    data = form_data(model_files=[SimpleUploadedFile("p.ckpt", evil)])
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(owner).post("/upload/", data).status_code == 302
    version = ModelVersion.objects.get()
    model_file = version.files.get()
    assert model_file.scan_result == "Danger" and "posix.system" in model_file.scan_globals
    assert version.status == Status.BLOCKED and "quarantined" in version.hold_reason
    assert client_for(None).get(f"/api/download/models/{version.pk}").status_code == 404
    for user in (owner, staff):
        response = client_for(user).get(f"/api/download/models/{version.pk}")
        assert response.status_code == 403 and "quarantined" in response.json()["error"]
    page = client_for(owner).get(version.model.get_absolute_url()).content.decode()
    assert "quarantined" in page and "posix.system" in page
    with pytest.raises(ValidationError):
        services.version_publish(version=version)
    assert not canary.exists()  # nothing ever loaded the pickle


def test_benign_pickle_is_scanned_and_published(client_for, owner,
                                                django_capture_on_commit_callbacks):  # fmt: skip
    benign = pickle.dumps(collections.OrderedDict(weight=[1.0, 2.0]), protocol=2)
    data = form_data(model_files=[SimpleUploadedFile("ok.ckpt", benign)])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert client_for(owner).post("/upload/", data).status_code == 302
    assert len(callbacks) >= 2  # processing, then the scan queued by the hash task
    model_file = ModelFile.objects.get()
    assert model_file.scan_result == "Success" and model_file.scanned_at is not None
    assert model_file.version.status == Status.PUBLISHED


def test_same_content_reuses_the_earlier_scan(monkeypatch):
    first = FileFactory(scan_result="Danger", scan_message="Imports code: posix.system",
                        scan_globals=["posix.system"], sha256="cd" * 32,
                        scanner_version=SCANNER_VERSION)  # fmt: skip
    first.scanned_at = first.created_at
    first.save()
    second = FileFactory(scan_result="Pending", sha256="cd" * 32, format="PickleTensor")

    def must_not_scan(*args, **kwargs):
        raise AssertionError("scanned again")

    monkeypatch.setattr(services, "scan_model_stream", must_not_scan)
    tasks.scan_model_file(second.pk)
    second.refresh_from_db()
    assert (
        second.scan_result == "Danger" and f"same content as file {first.pk}" in second.scan_message
    )


@pytest.mark.parametrize("name", ["e.safetensors", "e.gguf", "e.onnx"])
def test_content_that_contradicts_the_extension_is_rejected(client_for, owner, name, settings):
    data = form_data(model_files=[SimpleUploadedFile(name, EVIL_PICKLE)])
    response = client_for(owner).post("/upload/", data)
    assert response.status_code == 400
    assert "its content is PickleTensor" in str(response.context["form"].errors["model_files"])
    assert stored_files(settings.MEDIA_ROOT) == []


def _image_on_disk(settings, **kwargs) -> GalleryImage:
    image = ImageFactory(**kwargs)
    for name in (image.image.name, image.thumbnail.name):
        path = settings.MEDIA_ROOT / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make_image(seed=1, size=(8, 8)))
    return image


@pytest.mark.parametrize("person", ["anon", "owner", "stranger", "staff"])
def test_draft_images_are_not_served_to_strangers(person, client_for, owner, stranger, staff,
                                                  settings):  # fmt: skip
    version = VersionFactory(model__owner=owner, model__status=Status.DRAFT)
    image = _image_on_disk(settings, version=version)
    user = {"anon": None, "owner": owner, "stranger": stranger, "staff": staff}[person]
    for name in (image.image.name, image.thumbnail.name):
        response = client_for(user).get(f"/media/{name}")
        assert response.status_code == (200 if person in {"owner", "staff"} else 404)
        if response.status_code == 200:
            assert response["Cache-Control"] == "private, no-store"


def test_published_pg_images_are_cacheable_and_mature_ones_need_the_level(client, settings):
    version = published_model().versions.get()
    safe = _image_on_disk(settings, version=version)
    mature = _image_on_disk(settings, version=version, nsfw_level=NsfwLevel.R)
    response = client.get(f"/media/{safe.thumbnail.name}")
    assert response.status_code == 200 and "public" in response["Cache-Control"]
    assert client.get(f"/media/{mature.thumbnail.name}").status_code == 404
    assert client.get("/media/images/00/not-an-image-row.png").status_code == 404


def test_a_broken_enqueue_after_commit_keeps_the_upload(
    client_for, owner, settings, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(*args) -> None:
        raise PermissionError("queue folder not writable")

    monkeypatch.setattr(tasks, "enqueue_version_processing", broken)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).post("/upload/", form_data())
    assert response.status_code == 302
    model_file = ModelFile.objects.get()
    assert (settings.MEDIA_ROOT / model_file.file.name).exists()
    assert model_file.hash_status == JobStatus.PENDING


@pytest.mark.parametrize(
    "path",
    [
        "/?nsfw=²",
        "/?nsfw=abc",
        "/?page=-1",
        "/?sort=x",
        "/?base=" + "b" * 5000,
        "/?q=" + "long " * 2000,
        "/?type=Nope&type=",
    ],
)
def test_odd_browse_parameters_are_not_errors(client, path):
    assert client.get(path).status_code == 200


def test_odd_ids_are_404_or_400_not_500(client):
    version = published_model().versions.get()
    model = version.model
    assert client.get(model.get_absolute_url() + "?version=²").status_code == 404
    assert client.get(model.get_absolute_url() + "?version=99999999999999999999").status_code == 404
    for raw in ("²", "-1", "99999999999999999999", "0"):
        response = client.get(f"/api/download/models/{version.pk}?fileId={raw}")
        assert response.status_code == 400, raw


def test_huge_parent_id_is_a_field_error(client_for, owner):
    response = client_for(owner).post(
        "/upload/", form_data(parent_version_ids="99999999999999999999999")
    )
    assert response.status_code == 400
    assert "parent_version_ids" in response.context["form"].errors


def _safetensors_with_header(header: object) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + b"\0" * 16


@pytest.mark.parametrize(
    "offsets", [["a", "b"], 5, [1], [8, 0], [-8, 0], [0.5, 8], None, [True, 8]]
)
def test_bad_safetensors_offsets_are_rejected_not_500(client_for, owner, offsets):
    content = _safetensors_with_header(
        {"w": {"dtype": "F16", "shape": [8], "data_offsets": offsets}}
    )
    response = client_for(owner).post(
        "/upload/", form_data(model_files=[SimpleUploadedFile("w.safetensors", content)])
    )
    assert response.status_code == 400
    assert "model_files" in response.context["form"].errors


def test_deeply_nested_safetensors_header_is_rejected(client_for, owner):
    nested = b"{" + b'"a":[' * 50_000 + b"]" * 50_000 + b"}"
    content = struct.pack("<Q", len(nested)) + nested
    response = client_for(owner).post(
        "/upload/", form_data(model_files=[SimpleUploadedFile("w.safetensors", content)])
    )
    assert response.status_code == 400


def test_draft_trigger_words_are_not_searchable(client):
    model = published_model(name="Public thing")
    VersionFactory(model=model, status=Status.DRAFT, trained_words=["zqxsecretword"])
    services.model_refresh_search_document(model=model)
    assert "zqxsecretword" not in Model.objects.get(pk=model.pk).search_document
    assert "Public thing" not in client.get("/?q=zqxsecretword").content.decode()


def test_publishing_a_version_makes_its_trigger_words_searchable():
    model = published_model(name="Thing")
    draft = VersionFactory(model=model, status=Status.IN_REVIEW, trained_words=["newword"])
    services.version_publish(version=draft)
    assert "newword" in Model.objects.get(pk=model.pk).search_document


def test_head_and_failed_downloads_are_not_counted(client, settings):
    version = published_model().versions.get()
    model_file = version.files.get()  # its bytes were never stored
    assert client.get(f"/api/download/models/{version.pk}").status_code == 503
    path = settings.MEDIA_ROOT / model_file.file.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"w")
    assert client.head(f"/api/download/models/{version.pk}").status_code == 200
    assert ModelFile.objects.get(pk=model_file.pk).download_count == 0
    assert Model.objects.get(pk=version.model_id).download_count == 0


def test_parent_given_as_a_model_link_resolves_to_that_models_newest_version(client_for, owner,
        django_capture_on_commit_callbacks, settings):  # fmt: skip
    settings.SITE_URL = "https://hub.example"  # the link is to this site
    other = published_model(name="Retro Poster Mix")
    older = other.versions.get()
    newer = VersionFactory(model=other, name="v2")
    # The slug ends with digits: they must not be read as a version id.
    link = f"https://hub.example/models/{other.pk}/retro-poster-mix-v{older.pk}/"
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).post("/upload/", form_data(parent_version_ids=link))
    assert response.status_code == 302
    child = ModelVersion.objects.get(model__name="Velvet Dreams")
    assert [p.parent_version_id for p in child.parents.all()] == [newer.pk]


def test_overlong_external_parent_link_is_a_field_error(client_for, owner):
    link = "https://example.org/" + "a" * 600
    response = client_for(owner).post("/upload/", form_data(external_parents=f"Mix | | {link}"))
    assert response.status_code == 400
    assert "external_parents" in response.context["form"].errors


def test_an_unexpected_failure_never_leaves_a_job_running(monkeypatch):
    version = VersionFactory(status=Status.IN_REVIEW, publish_requested=True)
    model_file = FileFactory(version=version, hash_status=JobStatus.PENDING)
    model_file.file.save("upload", ContentFile(make_safetensors(seed=1)))

    def boom(*args, **kwargs):
        raise ValueError("unexpected")

    monkeypatch.setattr(services, "hash_stream", boom)
    tasks.hash_model_file(model_file.pk)
    model_file.refresh_from_db()
    assert model_file.hash_status == JobStatus.ERROR and "unexpected" in model_file.hash_error
    version.refresh_from_db()
    assert version.decision == "hold" and "could not be checked" in version.hold_reason


def test_old_slugs_redirect_to_the_current_address(client):
    model = published_model(name="Velvet Dreams")
    version = model.versions.get()
    response = client.get(f"/models/{model.pk}/old-name/?version={version.pk}")
    assert response.status_code == 302
    assert response["Location"] == f"/models/{model.pk}/velvet-dreams/?version={version.pk}"
    assert client.get(f"/models/{model.pk}/").status_code == 302


def test_a_file_that_crashes_the_scanner_ends_as_error_not_pending(monkeypatch):
    version = VersionFactory(status=Status.IN_REVIEW, publish_requested=True)
    model_file = FileFactory(version=version, scan_result="Pending", format="PickleTensor",
                             sha256="ef" * 32)  # fmt: skip
    model_file.file.save("upload", ContentFile(b"\x80\x02}q\x00."))

    def crash(*args, **kwargs):
        raise RecursionError("deep")

    monkeypatch.setattr(services, "scan_model_stream", crash)
    tasks.scan_model_file(model_file.pk)
    model_file.refresh_from_db()
    assert model_file.scan_result == "Error" and "scanner failed" in model_file.scan_message
    version.refresh_from_db()
    assert version.status == Status.IN_REVIEW and "could not be checked" in version.hold_reason


def test_files_marked_checked_by_the_migration_are_not_reused_as_scans(monkeypatch):
    FileFactory(scan_result="Success", scanned_at=None, sha256="aa" * 32)
    pending = FileFactory(scan_result="Pending", sha256="aa" * 32, format="PickleTensor")
    pending.file.save("upload", ContentFile(b"\x80\x02}q\x00."))
    tasks.scan_model_file(pending.pk)
    pending.refresh_from_db()
    assert pending.scan_result == "Success" and "same content" not in pending.scan_message


# --- second review (uploads, scanning, downloads) ---------------------------------------


def test_gguf_looking_bytes_named_ckpt_are_refused(client_for, owner):
    payload = b"GGUF" + b"\x03\x00\x00\x00\x00" + b"0" + EVIL_PICKLE
    response = client_for(owner).post(
        "/upload/", form_data(model_files=[SimpleUploadedFile("evil.ckpt", payload)])
    )
    assert response.status_code == 400
    assert "its content is GGUF" in str(response.context["form"].errors["model_files"])


def test_legacy_magic_written_as_int_still_scans_every_pickle():
    from models_hub.formats.pickles import scan_stream

    magic = b"I%d\n." % 0x1950A86A20F9469CFC6C
    protocol = b"I0x3e9\n."  # the unpickler reads 1001; pickletools refuses it
    evil = b"cposix\nsystem\n(S'true'\ntR."
    result = scan_stream(io.BytesIO(magic + protocol + evil))
    assert result.status != "Success"


def test_tar_archives_are_refused(client_for, owner):
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("\x80\x02pickle")
        archive.addfile(info, io.BytesIO(b""))
    response = client_for(owner).post(
        "/upload/", form_data(model_files=[SimpleUploadedFile("x.pt", buffer.getvalue())])
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("c.yaml", b"a: [1, 2\n", "not valid YAML"),
        ("c.json", b"{nope", "not valid JSON"),
        ("c.yaml", b"x: " + b"y" * (1024 * 1024), "at most"),
        ("c.yaml", b"cposix\nsystem\n(S'true'\ntR.", "pickle that imports code"),
    ],
)
def test_config_files_are_parsed_and_checked(client_for, owner, name, content, message):
    data = form_data(model_files=[SimpleUploadedFile("w.safetensors", make_safetensors(seed=2)),
                                  SimpleUploadedFile(name, content)])  # fmt: skip
    response = client_for(owner).post("/upload/", data)
    assert response.status_code == 400
    assert message in str(response.context["form"].errors["model_files"])


def test_an_older_scanners_success_is_not_reused():
    old = FileFactory(scan_result="Success", sha256="be" * 32, scanner_version=SCANNER_VERSION - 1)
    old.scanned_at = old.created_at
    old.save()
    new = FileFactory(scan_result="Pending", sha256="be" * 32, format="PickleTensor")
    new.file.save("upload", ContentFile(EVIL_PICKLE))
    tasks.scan_model_file(new.pk)
    new.refresh_from_db()
    assert new.scan_result == "Danger" and new.scanner_version == SCANNER_VERSION


def test_publish_is_refused_while_files_are_pending_or_unchecked(staff, client_for):
    version = VersionFactory(status=Status.IN_REVIEW)
    FileFactory(version=version, scan_result="Pending")
    with pytest.raises(ValidationError, match="still being processed"):
        services.version_publish(version=version)
    ModelFile.objects.filter(version=version).update(scan_result="Error")
    with pytest.raises(ValidationError, match="could not be checked"):
        services.version_publish(version=version)
    # Staff who looked at it may publish it from the admin action.
    staff.is_superuser = True
    staff.save()
    response = client_for(staff).post(
        "/admin/models_hub/modelversion/",
        {"action": "publish_versions", "_selected_action": [version.pk]},
    )
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.status == Status.PUBLISHED


def test_admin_publish_of_a_quarantined_version_reports_instead_of_failing(staff, client_for):
    version = VersionFactory(status=Status.BLOCKED)
    FileFactory(version=version, scan_result="Danger")
    staff.is_superuser = True
    staff.save()
    response = client_for(staff).post(
        "/admin/models_hub/modelversion/",
        {"action": "publish_versions", "_selected_action": [version.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "quarantined file can never be published" in response.content.decode()
    version.refresh_from_db()
    assert version.status == Status.BLOCKED
