"""BAD_INPUTS rows about requests and stored metadata that no other file covers: 18, 30, 32."""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from models_hub.formats.pickles import scan_stream
from models_hub.models import Model, ModelFile
from tests.factories import form_data

pytestmark = pytest.mark.django_db


def test_row18_hostile_metadata_is_truncated_and_escaped_on_the_page(
    client_for, owner, django_capture_on_commit_callbacks
):
    metadata = {
        "ss_tag_frequency": '<script>alert("x")</script>' + "y" * 10_000_000,
        "modelspec.title": "<img src=x onerror=alert(1)>",
    }
    tensor = {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}
    raw = json.dumps({"__metadata__": metadata, "w": tensor}).encode()
    content = struct.pack("<Q", len(raw)) + raw + b"\0" * 4
    data = form_data(model_files=[SimpleUploadedFile("meta.safetensors", content)])
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(owner).post("/upload/", data).status_code == 302
    stored = ModelFile.objects.get().metadata
    assert len(stored["ss_tag_frequency"]) == 64 * 1024
    page = client_for(owner).get(Model.objects.get().get_absolute_url()).content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert '<script>alert("x")' not in page and "<img src=x onerror" not in page


def test_row30_more_than_100_files_in_one_request_is_a_400(client_for, owner):
    files = [SimpleUploadedFile(f"f{i}.png", b"x") for i in range(101)]
    response = client_for(owner).post("/upload/", {**form_data(), "images": files})
    assert response.status_code == 400
    assert not Model.objects.exists()


def test_row30_more_than_1000_fields_in_one_request_is_a_400(client_for, owner):
    fields = {f"field{i}": "x" for i in range(1001)}
    response = client_for(owner).post("/upload/", {**form_data(), **fields})
    assert response.status_code == 400
    assert not Model.objects.exists()


def test_row32_zip_slip_members_are_scanned_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("../../escape", "/abs/x", "..\\\\x", "archive/data.pkl"):
            archive.writestr(name, b"\x80\x02}q\x00.")
    before = set(os.listdir(tmp_path)) | set(os.listdir(tmp_path.parent))
    result = scan_stream(io.BytesIO(buffer.getvalue()))
    assert result.status == "Success"
    assert set(os.listdir(tmp_path)) | set(os.listdir(tmp_path.parent)) == before
