"""Signing up, resetting a forgotten password by e-mail and changing a password, end to end."""

from __future__ import annotations

import re

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import authenticate
from django.core import mail

from community.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 77"
OLD_PASSWORD = "correct horse battery staple"  # the factories' password


@pytest.fixture
def mailbox(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    return mail.outbox


def _signup(client, **fields):
    data = {
        "username": "newcomer",
        "email": "newcomer@example.invalid",
        "password1": "a-long enough passphrase 42",
        "password2": "a-long enough passphrase 42",
    }
    data.update(fields)
    return client.post("/accounts/signup/", data)


def test_signup_requires_an_email_address(client):
    response = _signup(client, email="")
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert not User.objects.filter(username="newcomer").exists()


def test_signup_with_an_email_address_signs_in(client):
    response = _signup(client)
    assert response.status_code == 302
    user = User.objects.get(username="newcomer")
    assert user.email == "newcomer@example.invalid"
    assert client.get("/feed/").status_code == 200  # signed in


def test_signup_goes_back_to_a_local_next_only(client):
    assert _signup(client, username="a", next="/feed/")["Location"] == "/feed/"
    client.post("/accounts/logout/")
    response = _signup(
        client, username="b", email="b@example.invalid", next="https://evil.example/"
    )
    assert response["Location"] == "/"


def test_password_reset_end_to_end(client, owner, mailbox, settings):
    # Whoever asks, with whatever Host header, the link names the site's own address.
    settings.ALLOWED_HOSTS = ["testserver", "evil.example"]
    response = client.post(
        "/accounts/password-reset/", {"email": owner.email}, HTTP_HOST="evil.example"
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert len(mailbox) == 1
    message = mailbox[0]
    assert message.to == [owner.email]
    assert django_settings.SITE_NAME in message.subject
    assert "evil.example" not in message.body
    links = re.findall(r"https?://\S+", message.body)
    assert len(links) == 1
    link = links[0]
    assert link.startswith(django_settings.SITE_URL + "/accounts/password-reset/")

    path = link.removeprefix(django_settings.SITE_URL)
    response = client.get(path)  # Django swaps the token for a session and redirects
    assert response.status_code == 302
    set_password_url = response["Location"]
    response = client.get(set_password_url)
    assert response.status_code == 200 and response.context["validlink"]
    response = client.post(
        set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/done/"
    assert client.get("/accounts/password-reset/done/").status_code == 200

    assert authenticate(username="owner", password=OLD_PASSWORD) is None
    signed_in = client.post("/accounts/login/", {"username": "owner", "password": NEW_PASSWORD})
    assert signed_in.status_code == 302
    assert client.get("/accounts/profile/").status_code == 200

    # The link works once.
    client.post("/accounts/logout/")
    response = client.get(path, follow=True)
    assert not response.context["validlink"]
    assert "This link no longer works" in response.content.decode()


def test_password_reset_for_an_unknown_or_closed_account_sends_nothing(client, mailbox):
    UserFactory(username="banned", email="banned@example.invalid", is_active=False)
    for address in ("nobody@example.invalid", "banned@example.invalid"):
        response = client.post("/accounts/password-reset/", {"email": address})
        # The same answer as for a real account: the form tells no one who is a member.
        assert response.status_code == 302
        assert response["Location"] == "/accounts/password-reset/sent/"
    assert mailbox == []


def test_a_tampered_reset_link_does_not_work(client, owner, mailbox):
    client.post("/accounts/password-reset/", {"email": owner.email})
    link = re.findall(r"https?://\S+", mailbox[0].body)[0]
    tampered = link.removeprefix(django_settings.SITE_URL).rstrip("/")[:-3] + "abc/"
    response = client.get(tampered, follow=True)
    assert not response.context["validlink"]
    owner.refresh_from_db()
    assert owner.check_password(OLD_PASSWORD)


def test_password_change_needs_the_old_password(client_for, owner):
    c = client_for(owner)
    response = c.post(
        "/accounts/password/",
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors
    owner.refresh_from_db()
    assert owner.check_password(OLD_PASSWORD)
    response = c.post(
        "/accounts/password/",
        {
            "old_password": OLD_PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/changed/"
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    assert c.get("/accounts/profile/").status_code == 200  # still signed in


def test_password_change_is_for_signed_in_people(client):
    response = client.post("/accounts/password/", {"old_password": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
