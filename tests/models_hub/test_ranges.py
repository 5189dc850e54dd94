"""Resumable downloads: Range, If-Range, 416, and counting a resumed download once."""

from __future__ import annotations

import pytest

from models_hub.models import Model, ModelFile
from models_hub.ranges import Unsatisfiable, parse_range
from tests.factories import published_model

pytestmark = pytest.mark.django_db

CONTENT = bytes(range(256)) * 40  # 10,240 bytes


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-", (0, 99)),
        ("bytes=10-19", (10, 19)),
        ("bytes=90-200", (90, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-500", (0, 99)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole file
        ("items=0-5", None),
        ("bytes=abc", None),
        ("bytes=-", None),
        ("bytes=20-10", None),  # invalid: ignored, the whole file is sent
        ("bytes=" + "9" * 5000 + "-", None),  # absurd numbers are not read at all
        ("bytes=\u0661-", None),  # non-ASCII digits
    ],
)
def test_parse_range(header, expected):
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=150-200", "bytes=-0"])
def test_unsatisfiable_ranges(header):
    with pytest.raises(Unsatisfiable):
        parse_range(header, 100)


@pytest.fixture
def stored(settings):
    version = published_model().versions.get()
    model_file = version.files.get()
    model_file.size_bytes = len(CONTENT)
    model_file.save()
    path = settings.MEDIA_ROOT / model_file.file.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(CONTENT)
    return version, model_file


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_whole_file_advertises_ranges(client, stored):
    version, model_file = stored
    response = client.get(f"/api/download/models/{version.pk}")
    assert response.status_code == 200 and body(response) == CONTENT
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(len(CONTENT))
    assert response["ETag"] == f'"{model_file.sha256}"'


def test_resumed_download_gets_the_rest_and_counts_once(client, stored):
    version, model_file = stored
    # The first request asks for the whole file; the connection drops after 4096 bytes.
    first = client.get(f"/api/download/models/{version.pk}")
    assert first.status_code == 200
    first_part = next(iter(first.streaming_content))[:4096]
    rest = client.get(f"/api/download/models/{version.pk}", HTTP_RANGE="bytes=4096-")
    assert rest.status_code == 206
    assert rest["Content-Range"] == f"bytes 4096-{len(CONTENT) - 1}/{len(CONTENT)}"
    assert rest["Content-Length"] == str(len(CONTENT) - 4096)
    assert first_part + body(rest) == CONTENT
    assert ModelFile.objects.get(pk=model_file.pk).download_count == 1
    assert Model.objects.get(pk=version.model_id).download_count == 1


def test_probing_a_few_bytes_is_not_a_download(client, stored):
    version, model_file = stored
    for _ in range(3):
        response = client.get(f"/api/download/models/{version.pk}", HTTP_RANGE="bytes=0-0")
        assert response.status_code == 206 and body(response) == CONTENT[:1]
    assert ModelFile.objects.get(pk=model_file.pk).download_count == 0


def test_range_past_the_end_is_416(client, stored):
    version, _ = stored
    response = client.get(f"/api/download/models/{version.pk}", HTTP_RANGE="bytes=999999-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(CONTENT)}"


def test_if_range_with_an_old_etag_sends_the_whole_file(client, stored):
    version, _ = stored
    response = client.get(
        f"/api/download/models/{version.pk}", HTTP_RANGE="bytes=100-", HTTP_IF_RANGE='"old"'
    )
    assert response.status_code == 200 and body(response) == CONTENT


def test_x_accel_redirect_hands_the_bytes_to_nginx(client, stored, settings):
    settings.HUB_DOWNLOAD_ACCEL_PREFIX = "/protected/"
    version, model_file = stored
    response = client.get(f"/api/download/models/{version.pk}")
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == "/protected/" + model_file.file.name
    assert f'filename="{model_file.name}"' in response["Content-Disposition"]
    client.get(f"/api/download/models/{version.pk}", HTTP_RANGE="bytes=10-")
    assert ModelFile.objects.get(pk=model_file.pk).download_count == 1
