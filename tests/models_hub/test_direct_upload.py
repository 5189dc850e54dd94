# ruff: noqa: F811 - pytest fixtures imported from test_s3_storage are used as arguments
"""Direct uploads to S3 (moto in server mode): parts go to presigned URLs, the server
completes the multipart upload, checks and hashes the object, and attaches it."""

from __future__ import annotations

import hashlib
import urllib.request

import pytest

from models_hub.choices import JobStatus, Status
from models_hub.models import ModelFile, ResumableUpload
from tests.factories import form_data
from tests.models_hub.test_s3_storage import BUCKET, moto_endpoint, s3_storage  # noqa: F401

pytestmark = pytest.mark.django_db
PART = 5 * 1024 * 1024  # S3's smallest part size


def big_safetensors(size: int) -> bytes:
    import json
    import struct

    header = b""
    for _ in range(3):
        data = size - 8 - len(header)
        header = json.dumps({"w": {"dtype": "U8", "shape": [data], "data_offsets": [0, data]}})
        header = header.encode()
    return (
        struct.pack("<Q", len(header))
        + header
        + bytes(range(256)) * (data // 256)
        + b"\0" * (data % 256)
    )


@pytest.fixture
def api(client_for, owner, settings, s3_storage):  # noqa: F811
    settings.HUB_UPLOAD_CHUNK_BYTES = PART
    return client_for(owner)


def put_part(url: str, data: bytes) -> None:
    # As a browser sends a Blob: not as a form (urllib's default content type).
    request = urllib.request.Request(
        url, data=data, method="PUT", headers={"Content-Type": "application/octet-stream"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def test_direct_upload_goes_to_the_bucket_and_joins_a_version(
    api,
    s3_storage,
    django_capture_on_commit_callbacks,  # noqa: F811
):
    content = big_safetensors(2 * PART + 12345)
    created = api.post(
        "/api/uploads",
        {"filename": "big.safetensors", "size": len(content), "direct": True},
        content_type="application/json",
    ).json()
    assert created["direct"] is True and created["offset"] == 0
    urls = api.get(f"/api/uploads/{created['id']}/parts?numbers=1,2,3").json()["parts"]
    assert [u["partNumber"] for u in urls] == [1, 2, 3]
    put_part(urls[0]["url"], content[:PART])
    # A dropped connection: the server tells where to resume from the bucket's own list.
    assert api.get(f"/api/uploads/{created['id']}").json()["offset"] == PART
    put_part(urls[1]["url"], content[PART : 2 * PART])
    early = api.post(f"/api/uploads/{created['id']}/complete")
    assert early.status_code == 400 and "missing parts" in early.json()["error"]
    put_part(urls[2]["url"], content[2 * PART :])
    done = api.post(f"/api/uploads/{created['id']}/complete").json()
    assert done["state"] == "complete" and done["format"] == "SafeTensor"
    assert done["hashes"]["SHA256"] == hashlib.sha256(content).hexdigest()

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/upload/", form_data(model_files=None, upload_ids=created["id"]))
    assert response.status_code == 302, response.content[:2000]
    model_file = ModelFile.objects.get()
    assert model_file.hash_status == JobStatus.DONE and model_file.tensor_count == 1
    assert model_file.file.name.startswith("models/")
    with s3_storage.open(model_file.file.name, "rb") as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == model_file.sha256
    assert model_file.version.status == Status.PUBLISHED
    assert ResumableUpload.objects.get(pk=created["id"]).state == "used"
    # The temporary multipart object is gone; the final key holds the file.
    keys = [o.key for o in s3_storage.bucket.objects.all()]
    assert model_file.file.name in keys
    assert not [k for k in keys if k.startswith("uploads/")]


def test_wrong_content_in_a_direct_upload_is_refused_and_removed(api, s3_storage):  # noqa: F811
    models_before = {o.key for o in s3_storage.bucket.objects.filter(Prefix="models/")}
    content = b"\x89PNG\r\n\x1a\n" + b"\0" * (PART + 10)
    created = api.post(
        "/api/uploads",
        {"filename": "x.safetensors", "size": len(content), "direct": True},
        content_type="application/json",
    ).json()
    urls = api.get(f"/api/uploads/{created['id']}/parts?numbers=1,2").json()["parts"]
    put_part(urls[0]["url"], content[:PART])
    put_part(urls[1]["url"], content[PART:])
    response = api.post(f"/api/uploads/{created['id']}/complete")
    assert response.status_code == 422
    assert list(s3_storage.bucket.objects.filter(Prefix="uploads/")) == []
    assert {o.key for o in s3_storage.bucket.objects.filter(Prefix="models/")} == models_before
    assert ResumableUpload.objects.get(pk=created["id"]).state == "failed"


def test_direct_upload_without_s3_is_refused(client_for, owner):
    response = client_for(owner).post(
        "/api/uploads",
        {"filename": "x.safetensors", "size": 10, "direct": True},
        content_type="application/json",
    )
    assert response.status_code == 400 and "direct" in response.json()["errors"]


def test_part_numbers_out_of_range_are_a_400(api):
    created = api.post(
        "/api/uploads",
        {"filename": "x.safetensors", "size": PART + 1, "direct": True},
        content_type="application/json",
    ).json()
    assert api.get(f"/api/uploads/{created['id']}/parts?numbers=3").status_code == 400
    assert api.get(f"/api/uploads/{created['id']}/parts?numbers=x").status_code == 400


def test_a_storage_failure_after_the_parts_are_joined_ends_the_upload_cleanly(
    api,
    s3_storage,
    monkeypatch,  # noqa: F811
):
    from models_hub import direct_uploads

    content = big_safetensors(PART + 999)
    created = api.post(
        "/api/uploads",
        {"filename": "big.safetensors", "size": len(content), "direct": True},
        content_type="application/json",
    ).json()
    urls = api.get(f"/api/uploads/{created['id']}/parts?numbers=1,2").json()["parts"]
    put_part(urls[0]["url"], content[:PART])
    put_part(urls[1]["url"], content[PART:])

    def storage_drops(*args, **kwargs):
        raise ConnectionError("connection reset while reading the joined object")

    # The bucket fails after the multipart upload was completed: its parts are gone.
    monkeypatch.setattr(direct_uploads, "hash_stream", storage_drops)
    response = api.post(f"/api/uploads/{created['id']}/complete")
    assert response.status_code in (400, 422) and "upload it again" in response.json()["error"]
    # Not reopened on parts that no longer exist: later requests answer, never a 500.
    status = api.get(f"/api/uploads/{created['id']}")
    assert status.status_code == 200 and status.json()["state"] == "failed"
    assert list(s3_storage.bucket.objects.filter(Prefix="uploads/")) == []
