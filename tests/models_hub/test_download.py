from __future__ import annotations

import pytest

from models_hub.models import Model, ModelFile, ModelVersion
from tests.factories import FileFactory, published_model

pytestmark = pytest.mark.django_db


def test_download_sends_primary_file_with_its_name_and_counts(client, on_disk):
    model = published_model()
    version = model.versions.get()
    primary = version.files.get()
    on_disk(primary, b"weights")
    response = client.get(f"/api/download/models/{version.pk}")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{primary.name}"'
    assert response["Content-Type"] == "application/octet-stream"
    assert b"".join(response.streaming_content) == b"weights"
    assert ModelFile.objects.get(pk=primary.pk).download_count == 1
    assert ModelVersion.objects.get(pk=version.pk).download_count == 1
    assert Model.objects.get(pk=model.pk).download_count == 1


def test_download_by_file_id(client, on_disk):
    version = published_model().versions.get()
    extra = FileFactory(version=version, is_primary=False, name="config.yaml")
    on_disk(extra, b"a: 1\n")
    response = client.get(f"/api/download/models/{version.pk}?fileId={extra.pk}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"a: 1\n"
    assert 'filename="config.yaml"' in response["Content-Disposition"]


def test_download_file_of_another_version_is_404(client, on_disk):
    version = published_model().versions.get()
    other = published_model().versions.get().files.get()
    response = client.get(f"/api/download/models/{version.pk}?fileId={other.pk}")
    assert response.status_code == 404
    assert "error" in response.json()


def test_download_rejects_a_non_numeric_file_id(client):
    version = published_model().versions.get()
    response = client.get(f"/api/download/models/{version.pk}?fileId=abc")
    assert response.status_code == 400 and response.json()["error"]


def test_non_ascii_file_name_is_sent_safely(client, on_disk):
    version = published_model().versions.get()
    model_file = version.files.get()
    model_file.name = "ベルベット v1.safetensors"
    model_file.save()
    on_disk(model_file, b"w")
    response = client.get(f"/api/download/models/{version.pk}")
    assert response["Content-Disposition"] == (
        "attachment; filename*=UTF-8''%E3%83%99%E3%83%AB%E3%83%99%E3%83%83%E3%83%88%20v1"
        '.safetensors; filename="v1.safetensors"'
    )


def test_post_is_not_allowed(client):
    version = published_model().versions.get()
    assert client.post(f"/api/download/models/{version.pk}").status_code == 405


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("v1.safetensors", 'attachment; filename="v1.safetensors"'),
        ("Café.ckpt", "attachment; filename*=UTF-8''Caf%C3%A9.ckpt; filename=\"Cafe.ckpt\""),
        (
            "モデル.safetensors",
            "attachment; filename*=UTF-8''%E3%83%A2%E3%83%87%E3%83%AB"
            '.safetensors; filename="download.safetensors"',
        ),
        ('a"b.bin', "attachment; filename*=UTF-8''a%22b.bin; filename=\"a_b.bin\""),
    ],
)
def test_the_file_name_header_reads_the_same_in_every_client(name, expected):
    # curl -J reads only `filename`; civitdl takes what follows the last "filename=".
    from models_hub.ranges import attachment_header

    assert attachment_header(name) == expected
