from __future__ import annotations

import pytest

from community.models import User
from models_hub.choices import NsfwLevel
from tests.factories import published_model

pytestmark = pytest.mark.django_db


def test_signup_creates_an_account_and_signs_in(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "newcomer",
            "email": "n@example.invalid",
            "password1": "a-long enough passphrase 42",
            "password2": "a-long enough passphrase 42",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="newcomer")
    assert user.browsing_level == NsfwLevel.PG
    assert client.get("/upload/").status_code == 200


def test_signup_rejects_mismatched_passwords(client):
    response = client.post(
        "/accounts/signup/",
        {"username": "x", "password1": "a-long passphrase 1", "password2": "other passphrase"},
    )
    assert response.status_code == 200
    assert "password2" in response.context["form"].errors
    assert not User.objects.filter(username="x").exists()


def test_signed_in_user_visiting_signup_is_sent_home(client_for, owner):
    assert client_for(owner).get("/accounts/signup/").status_code == 302


def test_login_with_wrong_password_shows_an_error(client, owner):
    response = client.post("/accounts/login/", {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()


def test_login_and_logout(client, owner):
    response = client.post(
        "/accounts/login/", {"username": "owner", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    assert client.get("/upload/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/upload/").status_code == 302


@pytest.mark.parametrize("person", ["anon", "owner", "stranger", "staff"])
def test_pages_for_each_person(person, client_for, owner, stranger, staff):
    user = {"anon": None, "owner": owner, "stranger": stranger, "staff": staff}[person]
    c = client_for(user)
    model = published_model(owner=owner)
    assert c.get("/").status_code == 200
    assert c.get(model.get_absolute_url()).status_code == 200
    assert c.get("/upload/").status_code == (302 if user is None else 200)
    assert c.get("/accounts/login/").status_code == 200
    html = c.get("/").content.decode()
    assert ("Sign out" in html) == (user is not None)
    assert ('href="/admin/"' in html) == (person == "staff")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("post", "/", 405),
        ("put", "/upload/", 405),
        ("delete", "/api/download/models/1", 405),
    ],
)
def test_wrong_methods(method, path, status, client_for, owner):
    assert getattr(client_for(owner), method)(path).status_code == status


def test_post_to_model_page_is_not_allowed(client):
    model = published_model()
    assert client.post(model.get_absolute_url()).status_code == 405
