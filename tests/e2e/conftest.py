"""Browser journeys: Playwright drives Debian's chromium (`apt-get install chromium`; no
browser is downloaded) against a live server. Every journey module carries the
needs_chromium mark (tests/conftest.py): skipped without chromium, failed under CI. Each
journey saves a screenshot under var/screenshots/ (git-ignored) for a person to look at."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # journeys are marked needs_chromium
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls (setting
# up data, reading results) are still plain synchronous code between its steps.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def browser(live_server):
    """One browser per journey, started after the journey's database is set up and closed
    before it is flushed. Playwright keeps an event loop in this thread while it runs, and
    with a loop running Django hands out other connection objects: a session-long browser
    made the next transactional test restore its migration data into the wrong one."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
        # The connections the journey's own ORM calls opened while the loop ran: closed
        # here, or the test database cannot be dropped at the end of the run.
        connections.close_all()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    context.set_default_timeout(15_000)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def screenshot(page):
    """screenshot("name"): the page as a person sees it, kept for review."""

    def take(name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        # From the top: a full-page capture of a scrolled page draws the sticky top bar where
        # the view was, over the middle of the picture.
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
