"""A real Celery worker process against Redis and PostgreSQL: upload through the real view,
and watch the worker's results land in the database."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from models_hub.choices import JobStatus, Status
from models_hub.demo import make_image, make_safetensors
from models_hub.models import GalleryImage, ModelFile, ModelVersion
from tests.conftest import needs_postgres, needs_redis
from tests.factories import form_data
from tests.workers import _wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    needs_postgres,
    needs_redis,
]


def test_upload_is_processed_by_a_real_worker(worker, client, owner):
    process, log_path = worker
    weights = make_safetensors(seed=42, tensors=6)
    client.force_login(owner)
    response = client.post(
        "/upload/",
        form_data(
            name="Worker Test",
            model_files=[SimpleUploadedFile("w.safetensors", weights)],
            images=[
                SimpleUploadedFile("a.png", make_image(seed=1, size=(300, 300))),
                SimpleUploadedFile("b.png", make_image(seed=2, size=(300, 300))),
            ],
        ),
    )
    assert response.status_code == 302, response.content[:1000]
    version = ModelVersion.objects.get(model__name="Worker Test")
    # The request did not do the work itself: it was handed to the worker.
    assert version.status == Status.IN_REVIEW

    def published() -> bool:
        return ModelVersion.objects.get(pk=version.pk).status == Status.PUBLISHED

    _wait_for(published, timeout=60, log_path=log_path)
    assert process.poll() is None, "the worker died"
    model_file = ModelFile.objects.get(version=version)
    assert model_file.hash_status == JobStatus.DONE
    assert model_file.sha256 == hashlib.sha256(weights).hexdigest()
    assert model_file.autov2 == model_file.sha256[:10]
    images = GalleryImage.objects.filter(version=version)
    assert {image.process_status for image in images} == {JobStatus.DONE}
    assert all((Path(settings.MEDIA_ROOT) / image.thumbnail.name).exists() for image in images)
    assert client.get(version.model.get_absolute_url()).status_code == 200
    log = log_path.read_text()
    assert "models_hub.hash_model_file" in log and "succeeded" in log


def test_redelivery_of_a_finished_task_changes_nothing(worker, owner):
    """The same task delivered again after it finished: the claim fails and the row is kept."""
    from django.core.files.base import ContentFile

    from models_hub.tasks import hash_model_file
    from tests.factories import VersionFactory

    process, log_path = worker
    version = VersionFactory(model__owner=owner, status=Status.DRAFT, model__status=Status.DRAFT)
    model_file = ModelFile(
        version=version, name="d.safetensors", size_bytes=4, format="SafeTensor",
        hash_status=JobStatus.PENDING,
    )  # fmt: skip
    model_file.file.save("upload", ContentFile(b"abcd"), save=False)
    model_file.save()
    hash_model_file.delay(model_file.pk)

    def done() -> bool:
        return ModelFile.objects.get(pk=model_file.pk).hash_status == JobStatus.DONE

    _wait_for(done, timeout=60, log_path=log_path)
    assert ModelFile.objects.get(pk=model_file.pk).sha256 == hashlib.sha256(b"abcd").hexdigest()
    # Mark the row so a second hashing would be visible, then deliver the task twice more.
    ModelFile.objects.filter(pk=model_file.pk).update(sha256="sentinel")
    hash_model_file.delay(model_file.pk)
    hash_model_file.delay(model_file.pk)
    _wait_for(lambda: log_path.read_text().count("succeeded") >= 3, 30, log_path)
    assert ModelFile.objects.get(pk=model_file.pk).sha256 == "sentinel"
