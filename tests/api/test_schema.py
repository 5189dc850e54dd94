"""The OpenAPI schema (/api/schema/, browsable at /api/docs/) and schemathesis run from it
against a live server: no 500 on any generated request, schema-violating requests refused,
answers that match the schema, endpoints that need auth refusing without it; and a model
hidden afterwards is 404 on every path that showed it."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client

from community.api_keys import api_key_create
from models_hub.choices import Status
from models_hub.models import Model, ModelFile
from tests.factories import ImageFactory, TagFactory, UserFactory, published_model

V1_PATHS = {
    "/api/v1/models",
    "/api/v1/models/{model_id}",
    "/api/v1/model-versions/{version_id}",
    "/api/v1/model-versions/by-hash/{file_hash}",
    "/api/v1/model-versions/by-hash",
    "/api/v1/images",
    "/api/v1/creators",
    "/api/v1/tags",
}
# Checks schemathesis may leave out: positive_data_acceptance (a schema-valid cursor or
# base model name can still be one this server never gave or does not know) and
# unsupported_method (the moderation API answers 404 to every method from non-moderators,
# so nobody learns it exists).
EXCLUDED_CHECKS = "positive_data_acceptance,unsupported_method"


@pytest.mark.django_db
def test_the_schema_describes_every_v1_endpoint_and_validates(tmp_path):
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) >= V1_PATHS
    models = schema["paths"]["/api/v1/models"]["get"]
    names = {p["name"] for p in models["parameters"]}
    assert {"limit", "page", "cursor", "query", "types", "sort", "nsfw"} <= names
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    # drf-spectacular's own validation, with warnings as failures.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s"))


@pytest.mark.django_db
def test_the_docs_page_uses_files_served_here_not_a_cdn():
    page = Client().get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_schemathesis_finds_no_failure_and_a_hidden_model_is_404_afterwards(live_server):
    sha = hashlib.sha256(b"fuzzed").hexdigest()
    models = [published_model(name=f"Fuzz {i}") for i in range(3)]
    for model in models:
        model.tags.add(TagFactory(name="fuzz"))
        ImageFactory(version=model.versions.get())
    ModelFile.objects.filter(version__model=models[0]).update(sha256=sha)
    moderator = UserFactory(username="fuzzmod")
    moderator.groups.add(Group.objects.get(name="moderators"))
    scopes = ["read", "download", "upload", "moderate"]  # every endpoint, fuzzed as a member
    _, key = api_key_create(user=moderator, name="fuzz", scopes=scopes)

    st = Path(sys.executable).with_name("st")
    run = subprocess.run(
        [str(st), "run", f"{live_server.url}/api/schema/?format=json",
         "--checks", "all", "--exclude-checks", EXCLUDED_CHECKS,
         "--max-examples", "12", "--workers", "2", "--no-color",
         "--request-timeout", "20", "--generation-deterministic",
         "-H", f"Authorization: Bearer {key}"],
        capture_output=True, text=True, timeout=600, cwd=live_server_tmp(),
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    summary = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert summary and summary[1] == summary[2] and int(summary[1]) > 500, run.stdout[-3000:]

    # Hidden afterwards: gone from every path that showed it, for anyone without a stake.
    hidden = models[0]
    version = hidden.versions.get()
    base = live_server.url
    paths = [
        f"/api/v1/models/{hidden.pk}",
        f"/api/v1/model-versions/{version.pk}",
        f"/api/v1/model-versions/by-hash/{sha}",
        f"/api/download/models/{version.pk}",
    ]
    assert _get(base + paths[0]) == 200
    Model.objects.filter(pk=hidden.pk).update(status=Status.BLOCKED)
    assert [_get(base + path) for path in paths] == [404] * 4
    with urllib.request.urlopen(f"{base}/api/v1/models?limit=100", timeout=10) as answer:
        listed = [item["id"] for item in json.load(answer)["items"]]
    assert hidden.pk not in listed and models[1].pk in listed


def live_server_tmp() -> str:
    # schemathesis writes a cache folder into its working directory.
    import tempfile

    return tempfile.mkdtemp(prefix="schemathesis-")
