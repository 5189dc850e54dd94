"""S3 storage for real: a moto server on 127.0.0.1, django-storages talking to it over HTTP."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import boto3
import pytest
from django.core.files.storage import storages

from models_hub.models import ModelFile
from tests.factories import published_model

pytestmark = pytest.mark.django_db
BUCKET = "modelhub-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto_server() -> tuple[subprocess.Popen, str]:
    """A moto S3 server on a free port of 127.0.0.1: (its process, its endpoint URL)."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint, timeout=1)
            return process, endpoint
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.2)


@pytest.fixture(scope="module")
def moto_endpoint():
    process, endpoint = start_moto_server()
    yield endpoint
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def s3_storage(moto_endpoint, settings):
    credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    boto3.client(
        "s3", endpoint_url=moto_endpoint, region_name="us-east-1", **credentials
    ).create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": moto_endpoint,
                "region_name": "us-east-1",
                "access_key": "test",
                "secret_key": "test",
                "default_acl": None,
                "querystring_auth": True,
                "querystring_expire": 300,
                "file_overwrite": False,
                "signature_version": "s3v4",
                "addressing_style": "path",
            },
        },
    }
    return storages["default"]


def test_download_redirects_to_a_short_lived_presigned_url(s3_storage, client):
    version = published_model().versions.get()
    model_file = version.files.get()
    model_file.name = "velvet v1.safetensors"
    model_file.file.save("upload", io.BytesIO(b"weights-in-s3"), save=False)
    model_file.save()
    assert model_file.file.name.startswith("models/")

    response = client.get(f"/api/download/models/{version.pk}")
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(s3_storage.endpoint_url) and "X-Amz-Expires=300" in url
    with urllib.request.urlopen(url, timeout=10) as fetched:
        assert fetched.read() == b"weights-in-s3"
        assert 'filename="velvet v1.safetensors"' in fetched.headers["Content-Disposition"]
    assert ModelFile.objects.get(pk=model_file.pk).download_count == 1


def test_objects_are_private(s3_storage):
    s3_storage.save("images/00/private.png", io.BytesIO(b"x"))
    unsigned = f"{s3_storage.endpoint_url}/{BUCKET}/images/00/private.png"
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(unsigned, timeout=10)
    assert excinfo.value.code == 403
