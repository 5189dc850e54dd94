"""Steps several journeys take, done as a person would: through the visible links and the
labelled fields."""

from __future__ import annotations

import re

# tests.factories.UserFactory's password, for people the test made in the database.
FACTORY_PASSWORD = "correct horse battery staple"
# For people who sign up through the page.
JOIN_PASSWORD = "a long passphrase for the journey"


def form_label(text: str) -> re.Pattern[str]:
    """A field's label, with or without the colon Django's account forms add."""
    return re.compile(rf"^{re.escape(text)}:?$")


def join(page, username: str, password: str = JOIN_PASSWORD) -> None:
    page.goto("/")
    page.get_by_role("link", name="Join", exact=True).click()
    page.get_by_label(form_label("Username")).fill(username)
    page.get_by_label(form_label("Email address")).fill(f"{username}@example.invalid")
    page.get_by_label(form_label("Password")).fill(password)
    page.get_by_label(form_label("Password confirmation")).fill(password)
    page.get_by_role("button", name="Create account").click()
    page.get_by_text(f"Welcome, {username}!").wait_for()


def sign_in(page, username: str, password: str = FACTORY_PASSWORD) -> None:
    page.goto("/")
    page.get_by_role("link", name="Sign in", exact=True).click()
    page.get_by_label(form_label("Username")).fill(username)
    page.get_by_label(form_label("Password")).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Feed", exact=True).wait_for()  # only members have a feed
    assert page.locator("header").get_by_text(username, exact=True).is_visible()


def sign_out(page) -> None:
    page.locator("details.user-menu > summary").click()  # <summary> has no ARIA role
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("link", name="Sign in", exact=True).wait_for()
