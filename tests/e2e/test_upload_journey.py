"""A visitor joins, uploads a model with a license, watches its checks finish on the same
page (a real Celery worker runs them), and opens the published model. A second journey
reloads the page in the middle of a large upload and resumes it."""

from __future__ import annotations

import json
import re
import struct
import time

import pytest

from community.models import User
from models_hub.choices import JobStatus, Status
from models_hub.demo import make_image, make_safetensors
from models_hub.models import ModelFile, ModelVersion, ResumableUpload
from moderation.models import CheckRun
from tests.conftest import needs_chromium, needs_postgres, needs_redis
from tests.e2e.steps import join
from tests.workers import _wait_for

pytestmark = [
    needs_chromium,
    needs_postgres,
    needs_redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


LICENSE = "CreativeML Open RAIL++-M"
MB = 1024 * 1024


def _fill_model_form(page, *, name: str) -> None:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Type", exact=True).select_option(label="LoRA")
    page.get_by_label("Description", exact=True).fill(
        "Soft **pastel** light for portraits and rooms."
    )
    page.get_by_label("Tags", exact=True).fill("pastel, soft light")
    page.get_by_label("License", exact=True).select_option(label=LICENSE)
    page.get_by_label("Commercial use you allow", exact=True).select_option(
        label="Sell generated images"
    )
    page.get_by_label("Version name", exact=True).fill("v1.0")
    page.get_by_label("Base model", exact=True).select_option(label="SDXL 1.0")
    page.get_by_label("Trained words", exact=True).fill("pastelglow")


def _gallery_image(page) -> None:
    page.get_by_label("Images", exact=True).set_input_files(
        {
            "name": "sample.png",
            "mimeType": "image/png",
            "buffer": make_image(seed=1, size=(512, 640), prompt="pastel room, soft light"),
        }
    )


def test_a_visitor_joins_uploads_with_a_license_and_watches_the_checks_finish(
    worker, page, screenshot
):
    _process, log_path = worker
    weights = make_safetensors(seed=1)
    join(page, "pastelmaker")
    assert User.objects.filter(username="pastelmaker").exists()

    page.get_by_role("link", name="Upload", exact=True).click()
    page.get_by_role("heading", name="Upload a model").wait_for()
    _fill_model_form(page, name="Pastel Glow")
    page.get_by_label("Model files", exact=True).set_input_files(
        {"name": "pastel_glow.safetensors", "mimeType": "application/octet-stream",
         "buffer": weights}
    )  # fmt: skip
    _gallery_image(page)
    publish = page.get_by_label("Publish when processing is finished")
    publish.check()
    page.get_by_role("button", name="Upload", exact=True).click()

    # The file goes up in chunks with its own progress bar, then the form is sent with
    # fetch: the page stays, hides the form and follows the checks.
    progress = page.locator("#upload-progress").get_by_role("listitem").first
    progress.get_by_text(re.compile(r"Uploaded · SafeTensor · SHA256 [0-9A-F]{10}…")).wait_for()
    assert progress.get_by_role("progressbar").get_attribute("value") == "100"
    checks = page.locator("#upload-checks")
    checks.get_by_role("heading", name="Uploaded. Checking it now…").wait_for()
    assert page.url.endswith("/upload/"), "the page did not leave"
    assert page.get_by_label("Name", exact=True).is_hidden()

    version = ModelVersion.objects.get(model__name="Pastel Glow")
    assert version.model.owner.username == "pastelmaker"
    _wait_for(
        lambda: ModelVersion.objects.get(pk=version.pk).status == Status.PUBLISHED,
        timeout=90,
        log_path=log_path,
    )
    decision = checks.get_by_role("status")
    decision.get_by_text("Checks passed: your model is published.").wait_for(timeout=30_000)
    assert checks.get_attribute("aria-busy") == "false"
    assert checks.get_by_role("heading", name="Uploaded and checked").is_visible()

    # Every check run of the version has its row, and every one ended done.
    runs = CheckRun.objects.filter(version=version)
    assert runs.exists()
    assert set(runs.values_list("state", flat=True)) == {JobStatus.DONE}
    rows = checks.get_by_role("row").filter(has=page.get_by_role("cell"))
    assert rows.count() == runs.count()
    for row in rows.all():
        assert row.locator("td.state").inner_text() == "Done", row.inner_text()
        assert row.locator("td.state").get_attribute("class") == "state state-done"
    assert checks.get_by_role("cell", name="Version").count() >= 1
    screenshot("upload-checks-finished")

    # The model page shows the license and the file, with its hashes.
    checks.get_by_role("link", name="Open your model").click()
    page.wait_for_url(f"**{version.get_absolute_url()}")
    assert page.get_by_role("heading", name="Pastel Glow", level=1).is_visible()
    assert page.locator("section.license").get_by_role("link", name=LICENSE).is_visible()
    stored = ModelFile.objects.get(version=version)
    assert stored.hash_status == JobStatus.DONE
    files = page.locator("section.files")
    file_row = files.get_by_role("row").filter(has_text="pastel_glow.safetensors")
    assert file_row.count() == 1
    assert stored.sha256.upper() in file_row.inner_text()  # shown as Civitai shows hashes
    assert file_row.get_by_role("link", name="Download").is_visible()
    assert page.get_by_text("Only you can see it").count() == 0  # public, not held or draft
    screenshot("upload-model-page")


def _large_safetensors(size: int) -> bytes:
    """A valid safetensors file of about `size` bytes: one F16 tensor of random-ish bytes."""
    elements = (size - 256) // 2
    header = {
        "__metadata__": {"format": "pt"},
        "big.weight": {"dtype": "F16", "shape": [elements], "data_offsets": [0, elements * 2]},
    }
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    body = (bytes(range(256)) * (elements * 2 // 256 + 1))[: elements * 2]
    return struct.pack("<Q", len(raw)) + raw + body


def test_a_large_upload_resumes_after_the_page_is_reloaded(worker, page, screenshot, tmp_path):
    _process, log_path = worker
    path = tmp_path / "big_pastel.safetensors"
    path.write_bytes(_large_safetensors(40 * MB))
    size = path.stat().st_size
    join(page, "bigfiles")
    assert User.objects.filter(username="bigfiles").exists()

    # The first chunk (16 MB) is stored; the next one never gets an answer, like a
    # connection that died in the middle of the upload.
    stalled, put_offsets = [], []
    holding = {"after_first": True, "resumed": False}

    def chunks(route):
        request = route.request
        if request.method != "PUT":
            return route.continue_()
        offset = int(re.search(r"offset=(\d+)", request.url)[1])
        put_offsets.append(offset)
        if (holding["after_first"] and offset > 0) or holding["resumed"]:
            stalled.append(route)
            return None
        return route.continue_()

    page.route(re.compile(r"/api/uploads/[0-9a-f-]+\?offset="), chunks)

    page.get_by_role("link", name="Upload", exact=True).click()
    _fill_model_form(page, name="Big Pastel")
    page.get_by_label("Model files", exact=True).set_input_files(path)
    _gallery_image(page)
    page.get_by_role("button", name="Upload", exact=True).click()

    deadline = time.monotonic() + 30
    while not stalled and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert stalled, f"the second chunk was not sent (PUTs: {put_offsets})"
    upload = ResumableUpload.objects.get(owner__username="bigfiles")
    assert upload.received == 16 * MB
    screenshot("upload-stalled")

    # The person gives up waiting and reloads; the script offers to resume the same file.
    holding.update(after_first=False, resumed=True)
    stalled.clear()
    page.reload()
    _fill_model_form(page, name="Big Pastel")
    page.get_by_label("Model files", exact=True).set_input_files(path)
    _gallery_image(page)
    page.get_by_role("button", name="Upload", exact=True).click()
    row = page.locator("#upload-progress").get_by_role("listitem").first
    row.get_by_text("Resuming at 16.0 MB…").wait_for()
    # The bar starts where the stored part ends, not at zero.
    shown = float(row.get_by_role("progressbar").get_attribute("value"))
    assert shown >= 100 * 16 * MB / size - 0.01, shown
    screenshot("upload-resuming")
    deadline = time.monotonic() + 30
    while not stalled and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert stalled, "the resumed chunk was not sent"
    holding["resumed"] = False
    for route in stalled:
        route.continue_()

    page.locator("#upload-checks").get_by_role("status").get_by_text(
        "Checks passed: your model is published."
    ).wait_for(timeout=90_000)
    # The upload continued where it stopped: no chunk from the start again.
    assert put_offsets.count(0) == 1, put_offsets
    assert 16 * MB in put_offsets
    version = ModelVersion.objects.get(model__name="Big Pastel")
    stored = ModelFile.objects.get(version=version)
    assert stored.size_bytes == size
    assert ResumableUpload.objects.filter(owner__username="bigfiles").count() == 1
    _wait_for(
        lambda: ModelVersion.objects.get(pk=version.pk).status == Status.PUBLISHED,
        timeout=30,
        log_path=log_path,
    )
