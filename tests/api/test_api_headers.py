"""The public API's shared headers: any origin may read it (no credentials), preflights are
answered, and anonymous answers are cacheable while anything personal is not."""

from __future__ import annotations

import pytest
from django.test import Client

from community.api_keys import api_key_create
from tests.factories import UserFactory, published_model

pytestmark = pytest.mark.django_db


def test_anonymous_reads_are_cacheable_and_open_to_any_origin():
    published_model()
    response = Client().get("/api/v1/models", HTTP_ORIGIN="https://tools.example")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response
    assert response["Cache-Control"] == "public, max-age=60"
    assert "Authorization" in response["Vary"] and "Cookie" in response["Vary"]


def test_answers_for_a_key_or_a_session_and_errors_are_not_cached_publicly():
    user = UserFactory()
    _, key = api_key_create(user=user, name="k", scopes=["read"])
    keyed = Client().get("/api/v1/models", HTTP_AUTHORIZATION=f"Bearer {key}")
    session = Client()
    session.force_login(user)
    signed_in = session.get("/api/v1/models")
    missing = Client().get("/api/v1/models/999999")
    for response in (keyed, signed_in, missing):
        assert "public" not in response["Cache-Control"]
        assert "private" in response["Cache-Control"]
    assert missing.status_code == 404 and missing["Access-Control-Allow-Origin"] == "*"


def test_a_browser_preflight_is_answered_for_the_api_and_downloads():
    for path in ("/api/v1/models", "/api/download/models/1"):
        response = Client().options(
            path,
            HTTP_ORIGIN="https://tools.example",
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
        )
        assert response.status_code == 204
        assert "Authorization" in response["Access-Control-Allow-Headers"]
        assert response["Access-Control-Allow-Origin"] == "*"


def test_downloads_stay_private_and_say_their_name_to_scripts(on_disk):
    version = published_model().versions.get()
    on_disk(version.files.get(), b"weights")
    response = Client().head(f"/api/download/models/{version.pk}")
    assert response["Cache-Control"] == "private, no-store"
    assert "Content-Disposition" in response["Access-Control-Expose-Headers"]


def test_pages_outside_the_api_get_no_cors_headers():
    assert "Access-Control-Allow-Origin" not in Client().get("/")
