"""The resumable upload protocol, end to end through the views and into a version."""

from __future__ import annotations

import hashlib
import io
import resource

import pytest

from models_hub.choices import JobStatus, Status
from models_hub.demo import make_image, make_safetensors
from models_hub.models import ModelFile, ResumableUpload
from models_hub.uploads import ChunkIncomplete, upload_write_chunk
from tests.factories import form_data

pytestmark = pytest.mark.django_db
WEIGHTS = make_safetensors(seed=11, tensors=40)


@pytest.fixture
def api(client_for, owner):
    return client_for(owner)


def create(api, content: bytes = WEIGHTS, **extra) -> dict:
    body = {"filename": "velvet.safetensors", "size": len(content), **extra}
    response = api.post("/api/uploads", body, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def put(api, upload_id: str, offset: int, chunk: bytes, **headers):
    return api.put(
        f"/api/uploads/{upload_id}?offset={offset}",
        data=chunk,
        content_type="application/octet-stream",
        **headers,
    )


def send_all(api, upload_id: str, content: bytes, chunk: int = 1000) -> None:
    for offset in range(0, len(content), chunk):
        response = put(api, upload_id, offset, content[offset : offset + chunk])
        assert response.status_code == 200, response.content
        assert response.json()["offset"] == min(offset + chunk, len(content))


def test_upload_in_chunks_then_complete_gives_every_hash(api):
    upload = create(api, sha256=hashlib.sha256(WEIGHTS).hexdigest())
    assert upload["offset"] == 0 and upload["state"] == "open"
    send_all(api, upload["id"], WEIGHTS)
    done = api.post(f"/api/uploads/{upload['id']}/complete").json()
    assert done["state"] == "complete" and done["format"] == "SafeTensor"
    assert done["hashes"]["SHA256"] == hashlib.sha256(WEIGHTS).hexdigest()
    assert done["hashes"]["AutoV2"] == hashlib.sha256(WEIGHTS).hexdigest()[:10]


def test_a_dropped_connection_resumes_from_the_stored_offset(api):
    upload = create(api)
    assert put(api, upload["id"], 0, WEIGHTS[:1500]).status_code == 200
    # The next chunk is cut short: the connection drops after 300 of its 900 bytes.
    row = ResumableUpload.objects.get(pk=upload["id"])
    with pytest.raises(ChunkIncomplete):
        upload_write_chunk(upload=row, offset=1500, length=900, body=io.BytesIO(WEIGHTS[1500:1800]))
    assert row.temp_path.stat().st_size == 1500  # the partial bytes are not kept
    status = api.get(f"/api/uploads/{upload['id']}")
    assert status.json()["offset"] == 1500 and status["Upload-Offset"] == "1500"
    send_all_from = 1500
    for offset in range(send_all_from, len(WEIGHTS), 700):
        assert put(api, upload["id"], offset, WEIGHTS[offset : offset + 700]).status_code == 200
    done = api.post(f"/api/uploads/{upload['id']}/complete").json()
    assert done["hashes"]["SHA256"] == hashlib.sha256(WEIGHTS).hexdigest()


def test_a_full_disk_mid_chunk_keeps_nothing_of_it_and_the_upload_resumes(api, disk_that_fills_at):
    upload = create(api)
    assert put(api, upload["id"], 0, WEIGHTS[:1500]).status_code == 200
    disk_that_fills_at(2000)  # the next chunk runs out of room after 500 of its 900 bytes
    try:
        response = put(api, upload["id"], 1500, WEIGHTS[1500:2400])
    finally:
        disk_that_fills_at(resource.RLIM_INFINITY)
    assert response.status_code == 503 and response["Retry-After"] == "60"
    assert "no room" in response.json()["error"] and response.json()["offset"] == 1500
    row = ResumableUpload.objects.get(pk=upload["id"])
    assert row.received == 1500 and row.temp_path.stat().st_size == 1500
    # With room again the client sends the same chunk and the rest; the hashes are right
    # although the running hash had seen the bytes of the failed chunk.
    for offset in range(1500, len(WEIGHTS), 900):
        assert put(api, upload["id"], offset, WEIGHTS[offset : offset + 900]).status_code == 200
    done = api.post(f"/api/uploads/{upload['id']}/complete").json()
    assert done["hashes"]["SHA256"] == hashlib.sha256(WEIGHTS).hexdigest()


class _ConnectionBreaksAfter(io.BytesIO):
    """A request body whose connection breaks after `limit` bytes, as Django reports it."""

    def __init__(self, data: bytes, limit: int):
        super().__init__(data)
        self.limit = limit

    def read(self, size: int = -1) -> bytes:
        if self.tell() >= self.limit:
            from django.http.request import UnreadablePostError

            raise UnreadablePostError("connection reset by peer")
        return super().read(min(size, self.limit - self.tell()))


def test_a_connection_that_breaks_mid_chunk_does_not_spoil_the_hashes(api, monkeypatch):
    monkeypatch.setattr("models_hub.uploads.COPY_BUFFER", 100)
    upload = create(api)
    assert put(api, upload["id"], 0, WEIGHTS[:1500]).status_code == 200
    row = ResumableUpload.objects.get(pk=upload["id"])
    with pytest.raises(ChunkIncomplete):
        upload_write_chunk(
            upload=row, offset=1500, length=900,
            body=_ConnectionBreaksAfter(WEIGHTS[1500:2400], limit=300),
        )  # fmt: skip
    assert row.temp_path.stat().st_size == 1500
    for offset in range(1500, len(WEIGHTS), 900):
        assert put(api, upload["id"], offset, WEIGHTS[offset : offset + 900]).status_code == 200
    done = api.post(f"/api/uploads/{upload['id']}/complete").json()
    assert done["hashes"]["SHA256"] == hashlib.sha256(WEIGHTS).hexdigest()


def test_a_chunk_at_the_wrong_offset_is_refused_with_the_right_one(api):
    upload = create(api)
    put(api, upload["id"], 0, WEIGHTS[:100])
    response = put(api, upload["id"], 500, WEIGHTS[500:600])
    assert response.status_code == 409
    assert response.json()["offset"] == 100 and response["Upload-Offset"] == "100"
    # A repeated chunk (the client did not see the answer) is refused the same way.
    assert put(api, upload["id"], 0, WEIGHTS[:100]).status_code == 409


def test_a_chunk_past_the_declared_size_is_refused(api):
    upload = create(api, content=b"x" * 10)
    response = put(api, upload["id"], 0, b"y" * 11)
    assert response.status_code == 400
    assert ResumableUpload.objects.get(pk=upload["id"]).received == 0


def test_complete_before_all_bytes_arrived_is_refused(api):
    upload = create(api)
    put(api, upload["id"], 0, WEIGHTS[:100])
    response = api.post(f"/api/uploads/{upload['id']}/complete")
    assert response.status_code == 400 and "send the rest" in response.json()["error"]


def test_wrong_checksum_fails_the_upload_and_removes_its_bytes(api):
    upload = create(api, sha256="0" * 64)
    send_all(api, upload["id"], WEIGHTS)
    response = api.post(f"/api/uploads/{upload['id']}/complete")
    assert response.status_code == 422 and "SHA256" in response.json()["error"]
    row = ResumableUpload.objects.get(pk=upload["id"])
    assert row.state == "failed" and not row.temp_path.exists()


def test_content_decides_the_format_not_the_name(api):
    png = make_image(seed=1, size=(16, 16))
    upload = create(api, content=png)  # named velvet.safetensors
    send_all(api, upload["id"], png)
    response = api.post(f"/api/uploads/{upload['id']}/complete")
    assert response.status_code == 422
    assert "not a format we accept" in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filename": "x.exe", "size": 10}, "filename"),
        ({"filename": "x.safetensors", "size": 0}, "size"),
        ({"filename": "x.safetensors", "size": "10"}, "size"),
        ({"filename": "x.safetensors", "size": 10**15}, "size"),
        ({"filename": "x.safetensors", "size": 10, "sha256": "nothex"}, "sha256"),
        ({"size": 10}, "filename"),
    ],
)
def test_bad_create_requests_name_the_field(api, body, field):
    response = api.post("/api/uploads", body, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_not_json_is_a_400(api):
    response = api.post("/api/uploads", "[1", content_type="application/json")
    assert response.status_code == 400


def test_anonymous_gets_401_json_and_strangers_404(client, client_for, api, stranger):
    assert client.post("/api/uploads", {}, content_type="application/json").status_code == 401
    upload = create(api)
    other = client_for(stranger)
    assert other.get(f"/api/uploads/{upload['id']}").status_code == 404
    assert put(other, upload["id"], 0, WEIGHTS[:10]).status_code == 404
    assert other.post(f"/api/uploads/{upload['id']}/complete").status_code == 404
    assert client.get(f"/api/uploads/{upload['id']}").status_code == 401


def test_completed_upload_joins_a_version_through_the_form(
    api, owner, django_capture_on_commit_callbacks, settings
):
    upload = create(api)
    send_all(api, upload["id"], WEIGHTS, chunk=4096)
    api.post(f"/api/uploads/{upload['id']}/complete")
    temp_path = ResumableUpload.objects.get(pk=upload["id"]).temp_path
    data = form_data(model_files=None, upload_ids=upload["id"])
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/upload/", data)
    assert response.status_code == 302, response.content[:3000]
    model_file = ModelFile.objects.get()
    assert model_file.sha256 == hashlib.sha256(WEIGHTS).hexdigest()
    assert model_file.hash_status == JobStatus.DONE and model_file.name == "velvet.safetensors"
    assert (settings.MEDIA_ROOT / model_file.file.name).read_bytes() == WEIGHTS
    assert not temp_path.exists()  # moved into storage, not copied
    assert ResumableUpload.objects.get(pk=upload["id"]).state == "used"
    assert model_file.version.status == Status.PUBLISHED


def test_someone_elses_upload_cannot_be_attached(api, client_for, stranger):
    upload = create(api)
    send_all(api, upload["id"], WEIGHTS, chunk=4096)
    api.post(f"/api/uploads/{upload['id']}/complete")
    response = client_for(stranger).post(
        "/upload/", form_data(model_files=None, upload_ids=upload["id"])
    )
    assert response.status_code == 400
    assert "upload_ids" in response.context["form"].errors


def test_cancel_removes_the_bytes(api):
    upload = create(api)
    put(api, upload["id"], 0, WEIGHTS[:100])
    row = ResumableUpload.objects.get(pk=upload["id"])
    assert row.temp_path.exists()
    assert api.delete(f"/api/uploads/{upload['id']}").status_code == 204
    row.refresh_from_db()
    assert row.state == "failed" and not row.temp_path.exists()


def test_too_many_unfinished_uploads_are_refused(api, monkeypatch):
    monkeypatch.setattr("models_hub.uploads.MAX_OPEN_UPLOADS", 2)
    create(api)
    create(api)
    response = api.post(
        "/api/uploads", {"filename": "x.safetensors", "size": 10}, content_type="application/json"
    )
    assert response.status_code == 400 and "unfinished uploads" in response.json()["error"]


def test_a_file_larger_than_the_free_disk_is_refused(api, monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setattr(
        "models_hub.uploads.shutil.disk_usage", lambda path: SimpleNamespace(free=2 * 1024**3)
    )
    response = api.post(
        "/api/uploads",
        {"filename": "x.safetensors", "size": 3 * 1024**3},
        content_type="application/json",
    )
    assert response.status_code == 400 and "no room" in response.json()["errors"]["size"][0]


def test_stale_uploads_are_swept(api):
    from datetime import timedelta

    from django.utils import timezone

    from models_hub.tasks import sweep_stale_uploads

    old, fresh = create(api), create(api)
    put(api, old["id"], 0, WEIGHTS[:10])
    ResumableUpload.objects.filter(pk=old["id"]).update(
        updated_at=timezone.now() - timedelta(days=3)
    )
    assert sweep_stale_uploads() == 1
    stale = ResumableUpload.objects.get(pk=old["id"])
    assert stale.state == "failed" and not stale.temp_path.exists()
    assert ResumableUpload.objects.get(pk=fresh["id"]).state == "open"


def test_an_upload_started_days_ago_whose_chunks_still_arrive_is_kept(api):
    """A slow upload of a large file: begun three days ago, a chunk arrived just now."""
    from datetime import timedelta

    from django.utils import timezone

    from models_hub.tasks import sweep_stale_uploads

    slow = create(api)
    put(api, slow["id"], 0, WEIGHTS[:10])
    ResumableUpload.objects.filter(pk=slow["id"]).update(
        updated_at=timezone.now() - timedelta(days=3)
    )
    put(api, slow["id"], 10, WEIGHTS[10:20])
    assert sweep_stale_uploads() == 0
    kept = ResumableUpload.objects.get(pk=slow["id"])
    assert kept.state == "open" and kept.received == 20 and kept.temp_path.exists()


def test_an_upload_left_checking_by_a_dead_web_process_is_swept(api):
    from datetime import timedelta

    from django.utils import timezone

    from models_hub.tasks import sweep_stale_uploads

    stuck, busy = create(api), create(api)
    put(api, stuck["id"], 0, WEIGHTS[:10])
    ResumableUpload.objects.filter(pk=stuck["id"]).update(
        state="checking", updated_at=timezone.now() - timedelta(hours=2)
    )
    ResumableUpload.objects.filter(pk=busy["id"]).update(state="attaching")  # just now
    assert sweep_stale_uploads() == 1
    gone = ResumableUpload.objects.get(pk=stuck["id"])
    assert gone.state == "failed" and not gone.temp_path.exists()
    assert ResumableUpload.objects.get(pk=busy["id"]).state == "attaching"


def _completed(api) -> dict:
    upload = create(api)
    send_all(api, upload["id"], WEIGHTS, chunk=4096)
    assert api.post(f"/api/uploads/{upload['id']}/complete").status_code == 200
    return upload


def test_the_same_upload_named_twice_is_attached_once(api, django_capture_on_commit_callbacks):
    upload = _completed(api)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/upload/", form_data(model_files=None, upload_ids=f"{upload['id']},{upload['id']}")
        )
    assert response.status_code == 302
    assert ModelFile.objects.count() == 1


def test_a_failed_attach_gives_the_bytes_back(api, monkeypatch):
    from models_hub import services

    upload = _completed(api)
    row = ResumableUpload.objects.get(pk=upload["id"])

    def explode(*, model):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "model_refresh_search_document", explode)
    api.raise_request_exception = True
    with pytest.raises(RuntimeError):
        api.post("/upload/", form_data(model_files=None, upload_ids=upload["id"]))
    row.refresh_from_db()
    assert row.state == "complete" and row.temp_path.read_bytes() == WEIGHTS
    assert not ModelFile.objects.exists()
    monkeypatch.undo()
    response = api.post("/upload/", form_data(model_files=None, upload_ids=upload["id"]))
    assert response.status_code == 302  # the upload can still be used


def test_an_upload_being_attached_cannot_be_attached_again(api):
    from models_hub.uploads import uploads_claim, uploads_for_version

    upload = _completed(api)
    owner = ResumableUpload.objects.get(pk=upload["id"]).owner
    first = uploads_for_version(owner=owner, upload_ids=[upload["id"]])
    uploads_claim(files=first)
    response = api.post("/upload/", form_data(model_files=None, upload_ids=upload["id"]))
    assert response.status_code == 400


def test_cancel_or_chunks_during_the_check_are_refused(api):
    upload = create(api)
    send_all(api, upload["id"], WEIGHTS, chunk=4096)
    ResumableUpload.objects.filter(pk=upload["id"]).update(state="checking")
    assert api.delete(f"/api/uploads/{upload['id']}").status_code == 409
    assert api.post(f"/api/uploads/{upload['id']}/complete").status_code == 409


def test_a_chunk_after_cancel_is_a_409_not_a_500(api):
    upload = create(api)
    assert api.delete(f"/api/uploads/{upload['id']}").status_code == 204
    ResumableUpload.objects.filter(pk=upload["id"]).update(state="open")  # a stale view
    assert put(api, upload["id"], 0, WEIGHTS[:10]).status_code == 409


@pytest.mark.parametrize("body", ["[" * 50_000, '{"size": ' + "9" * 5000 + "}"])
def test_hostile_json_is_a_400(api, body):
    response = api.post("/api/uploads", body, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("forget_at", [None, 2000])
def test_hashes_are_right_whether_computed_on_arrival_or_read_back(api, forget_at, monkeypatch):
    """Chunks hashed as they arrive, or (when another web process took some chunks) read
    back at completion: the same six hashes either way."""
    from models_hub import uploads
    from models_hub.formats.hashing import hash_stream

    read_back = []
    original = uploads.hash_stream
    monkeypatch.setattr(
        uploads, "hash_stream", lambda *a, **kw: read_back.append(1) or original(*a, **kw)
    )
    upload = create(api)
    for offset in range(0, len(WEIGHTS), 1000):
        if offset == forget_at:
            uploads._RUNNING_HASHES.clear()  # as if this chunk reached another process
        assert put(api, upload["id"], offset, WEIGHTS[offset : offset + 1000]).status_code == 200
    done = api.post(f"/api/uploads/{upload['id']}/complete").json()
    expected = hash_stream(io.BytesIO(WEIGHTS), safetensors=True)
    assert done["hashes"]["SHA256"] == expected.sha256
    assert (
        done["hashes"]["AutoV3"] == expected.autov3 and done["hashes"]["BLAKE3"] == expected.blake3
    )
    # The file is read back only when some chunks were hashed by another process.
    assert len(read_back) == (0 if forget_at is None else 1)


def test_a_disk_error_while_checking_lets_the_client_try_again(api, monkeypatch):
    from models_hub import uploads

    upload = create(api)
    send_all(api, upload["id"], WEIGHTS, chunk=4096)

    def failing_inspect(part):
        raise OSError("I/O error")

    monkeypatch.setattr(uploads, "inspect_model_upload", failing_inspect)
    api.raise_request_exception = True
    with pytest.raises(OSError):
        api.post(f"/api/uploads/{upload['id']}/complete")
    assert ResumableUpload.objects.get(pk=upload["id"]).state == "open"
    monkeypatch.undo()
    assert api.post(f"/api/uploads/{upload['id']}/complete").status_code == 200


def test_bytes_lost_on_disk_are_caught_at_completion(api):
    upload = create(api)
    send_all(api, upload["id"], WEIGHTS, chunk=4096)
    row = ResumableUpload.objects.get(pk=upload["id"])
    with open(row.temp_path, "r+b") as part:  # as after a crash before the data hit the disk
        part.truncate(len(WEIGHTS) - 100)
    response = api.post(f"/api/uploads/{upload['id']}/complete")
    assert response.status_code == 422 and "declared size" in response.json()["error"]
