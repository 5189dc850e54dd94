"""A visitor browses, filters, opens a model and downloads its file, in a real browser."""

from __future__ import annotations

import hashlib

import pytest
from django.core.management import call_command

from models_hub.choices import ModelType
from models_hub.models import Model, ModelFile
from tests.conftest import needs_chromium

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_visitor_browses_filters_opens_a_model_and_downloads_it(page, screenshot):
    call_command("seed_demo", verbosity=0)
    checkpoints = set(
        Model.objects.filter(type=ModelType.CHECKPOINT, status="published").values_list(
            "name", flat=True
        )
    )
    assert checkpoints, "the demo content has checkpoints"

    page.goto("/")
    assert page.locator("h3 a").count() >= len(checkpoints)
    screenshot("browse")

    page.get_by_label("Checkpoint", exact=True).check()
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/?*type=Checkpoint*")
    shown = set(page.locator("h3 a").all_inner_texts())
    assert shown == checkpoints
    screenshot("browse-checkpoints")

    name = sorted(checkpoints)[0]
    page.get_by_role("link", name=name, exact=True).click()
    page.wait_for_selector("h1")
    assert name in page.locator("h1").inner_text()
    assert page.get_by_text("AI-generated").first.is_visible()
    screenshot("model-page")

    stored = ModelFile.objects.get(version__model__name=name, is_primary=True)
    with page.expect_download() as arrival:
        page.locator("a.button.primary", has_text="Download").first.click()
    download = arrival.value
    assert download.suggested_filename == stored.name
    with open(download.path(), "rb") as received:
        assert hashlib.sha256(received.read()).hexdigest() == stored.sha256
    assert ModelFile.objects.get(pk=stored.pk).download_count == stored.download_count + 1
