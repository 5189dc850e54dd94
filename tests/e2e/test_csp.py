"""The Content-Security-Policy (config/security.py) blocks nothing the site itself does: a
visitor, a member uploading a model and a moderator open the main pages in a real browser,
and chromium reports no violation, neither in the console ("Refused to ...") nor as a
`securitypolicyviolation` event."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core.management import call_command

from community.models import User
from models_hub.choices import NsfwLevel
from models_hub.demo import make_image, make_safetensors
from models_hub.models import GalleryImage, Model
from moderation.models import QueueItem
from tests.conftest import needs_chromium
from tests.e2e.steps import sign_in, sign_out
from tests.factories import UserFactory
from tests.moderation.conftest import make_moderator
from tests.moderation.test_queue import held_version

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# Playwright's init scripts run outside the page's CSP; this one records what the page's
# policy refused, for each document, before any of the page's own scripts run.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile || document.location.pathname}:${e.lineNumber}`);
});
"""


class Violations:
    """Every CSP violation chromium reported while the journey ran, by page."""

    def __init__(self, page) -> None:
        self.page = page
        self.found: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._console)

    def _console(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text or text.startswith("Refused to"):
            self.found.append(f"{self.page.url}: {text}")

    def visit(self, path: str) -> None:
        response = self.page.goto(path)
        assert response is not None and response.ok, (path, response and response.status)
        policy = response.header_value("content-security-policy")
        assert policy and "script-src 'self'" in policy, f"{path} has no CSP"
        self.settle()

    def settle(self) -> None:
        """Wait until the page's scripts, images and requests are done, then collect the
        events the init script recorded on this document."""
        self.page.wait_for_load_state("networkidle")
        events = self.page.evaluate("window.__cspViolations || []")
        self.found.extend(f"{self.page.url}: {event}" for event in events)


def _store_gallery_files(images) -> None:
    """Factory-made images are rows only: give them bytes, so the pages load real pictures."""
    for seed, image in enumerate(images):
        path = settings.MEDIA_ROOT / image.image.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make_image(seed=seed, size=(image.width, image.height)))


def test_the_main_pages_break_no_rule_of_the_content_security_policy(page):
    call_command("seed_demo", verbosity=0)
    model = Model.objects.filter(status="published").order_by("pk").first()
    image = GalleryImage.objects.filter(version__model=model, blurhash__gt="").first()
    assert image is not None, "the demo content has processed images with a BlurHash"
    rated = GalleryImage.objects.filter(blurhash__gt="").exclude(pk=image.pk).first()
    GalleryImage.objects.filter(pk=rated.pk).update(nsfw_level=NsfwLevel.R)
    # Content above the maker's level is shown blurred: blurhash.js paints the placeholder as
    # a data: image through the CSSOM.
    UserFactory(username="maker", above_level=User.AboveLevel.BLUR)
    version = held_version()
    _store_gallery_files(version.images.all())
    item = QueueItem.objects.get(version=version, state="open")
    make_moderator("mod")
    violations = Violations(page)

    # A visitor: browse (BlurHash placeholders), a model, an image.
    violations.visit("/")
    assert page.locator("article.card img").count() > 0
    violations.visit(model.get_absolute_url())
    violations.visit(f"/images/{image.pk}/")
    assert page.locator("main img").first.evaluate("img => img.naturalWidth > 0")

    # A member who sees R content blurred: its placeholder is a data: image.
    sign_in(page, "maker")
    violations.settle()
    violations.visit(f"/images/{rated.pk}/")
    placeholder = page.get_by_role("img", name=re.compile("above your browsing level"))
    page.wait_for_function(
        "el => el.style.backgroundImage.startsWith('url(\"data:image/png')",
        arg=placeholder.element_handle(),
    )
    violations.settle()
    # The member fills the upload form and sends it: upload.js posts the file in chunks and
    # then the form with fetch, and checks.js follows the new version's checks.
    violations.visit("/upload/")
    page.get_by_label("Name", exact=True).fill("CSP Probe")
    page.get_by_label("Type", exact=True).select_option(label="LoRA")
    page.get_by_label("License", exact=True).select_option(index=1)
    page.get_by_label("Version name", exact=True).fill("v1.0")
    page.get_by_label("Base model", exact=True).select_option(index=1)
    page.get_by_label("Model files", exact=True).set_input_files(
        {"name": "probe.safetensors", "mimeType": "application/octet-stream",
         "buffer": make_safetensors(seed=3)}
    )  # fmt: skip
    page.get_by_label("Images", exact=True).set_input_files(
        {"name": "probe.png", "mimeType": "image/png", "buffer": make_image(seed=4)}
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    page.locator("#upload-checks").wait_for(state="visible")
    violations.settle()
    sign_out(page)

    # A moderator: the queue (its charts) and the held item with its evidence images.
    sign_in(page, "mod")
    violations.visit("/moderation/")
    violations.visit(f"/moderation/items/{item.pk}/")
    evidence = page.locator("main img").first
    # Loaded (a blocked image never is), not only present: reading it at once raced its bytes.
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=evidence.element_handle()
    )

    assert violations.found == []
