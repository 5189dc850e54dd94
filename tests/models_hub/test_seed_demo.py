from __future__ import annotations

import pytest
from django.core.management import call_command

from community.models import User
from models_hub.choices import JobStatus, Status
from models_hub.models import GalleryImage, Model, ModelFile

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_admin_and_a_dozen_published_models(
    capsys, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.VAR_DIR = tmp_path
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo")
    out = capsys.readouterr().out
    assert "username: admin" in out and "password: " in out
    password = out.split("password: ")[1].split()[0]
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    assert Model.objects.count() == 12
    assert Model.objects.filter(status=Status.PUBLISHED).count() == 12
    assert len(set(Model.objects.values_list("type", flat=True))) >= 6
    assert not ModelFile.objects.exclude(hash_status=JobStatus.DONE).exists()
    assert GalleryImage.objects.filter(process_status=JobStatus.DONE).count() == 36
    assert Model.objects.filter(cover_image__isnull=True).count() == 0

    call_command("seed_demo")  # a second run adds nothing and still prints the account
    assert Model.objects.count() == 12
    assert f"password: {password}" in capsys.readouterr().out
