"""The production settings: `manage.py check --deploy` passes with a realistic production
environment, and a page served with those settings carries the security headers.

Production runs in subprocesses with an environment built from nothing: this process has
loaded tests/settings.py, which sets test-only variables and turns the HTTPS redirect off.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as live_settings
from django.http import HttpResponse

from config.security import HEADER, ContentSecurityPolicyMiddleware, content_security_policy

ROOT = Path(__file__).resolve().parent.parent
HOST = "models.example.org"


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": HOST,
        "SITE_URL": f"https://{HOST}",
        "VAR_DIR": str(tmp_path / "var"),
    }
    env.update(overrides)
    return {name: value for name, value in env.items() if value is not None}


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- manage.py check --deploy ----------------------------------------------------------------


def test_check_deploy_passes_with_a_production_environment(tmp_path):
    result = check_deploy(production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize(
    ("overrides", "warning"),
    [
        ({"SECRET_KEY": "short-key"}, "security.W009"),
        ({"SECURE_HSTS_SECONDS": "0"}, "security.W004"),
        ({"SECURE_SSL_REDIRECT": "0"}, "security.W008"),
        ({"SESSION_COOKIE_SECURE": "0"}, "security.W012"),
        ({"SECURE_HSTS_PRELOAD": ""}, "security.W021"),
    ],
)
def test_check_deploy_fails_when_production_is_weakened(tmp_path, overrides, warning):
    result = check_deploy(production_env(tmp_path, **overrides))
    assert result.returncode != 0
    assert warning in result.stderr


def test_declining_hsts_preload_silences_only_that_check(tmp_path):
    result = check_deploy(production_env(tmp_path, SECURE_HSTS_PRELOAD="0"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(1 silenced)" in result.stdout
    # The other HSTS checks still speak.
    weakened = check_deploy(
        production_env(tmp_path, SECURE_HSTS_PRELOAD="0", SECURE_HSTS_SECONDS="0")
    )
    assert weakened.returncode != 0
    assert "security.W004" in weakened.stderr


# --- Headers of a page served with the production settings -----------------------------------

# Runs in the subprocess: a migrated database and collected static files (the manifest storage
# needs them), then requests through Django's whole middleware stack.
SERVE = """
import json, os, django
from django.core.management import call_command
django.setup()
call_command("collectstatic", interactive=False, verbosity=0)
call_command("migrate", interactive=False, verbosity=0)
from django.test import Client
host = {"HTTP_HOST": os.environ["ALLOWED_HOSTS"]}
out = {}
for name, kwargs in {
    "https": {"secure": True},
    "http": {},
    "forged_proto": {"HTTP_X_FORWARDED_PROTO": "https"},
    "login": {"secure": True, "path": "/accounts/login/"},
    "api": {"secure": True, "path": "/api/v1/models"},
}.items():
    path = kwargs.pop("path", "/")
    response = Client().get(path, **host, **kwargs)
    out[name] = {
        "status": response.status_code,
        "headers": dict(response.headers),
        "cookies": {k: dict(v, secure=bool(v["secure"]), httponly=bool(v["httponly"]))
                    for k, v in response.cookies.items()},
    }
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def production_responses(tmp_path_factory) -> dict:
    tmp_path = tmp_path_factory.mktemp("production")
    result = subprocess.run(
        [sys.executable, "-c", SERVE],
        cwd=ROOT,
        env={**production_env(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_page_carries_the_security_headers(production_responses):
    page = production_responses["https"]
    assert page["status"] == 200
    headers = page["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    csp = dict(
        directive.strip().split(" ", 1) for directive in headers[HEADER].split(";")
    )  # fmt: skip
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'"
    assert csp["style-src-attr"] == "'unsafe-inline'"
    assert csp["img-src"] == "'self' data: blob:"  # local media: nothing from elsewhere
    assert csp["connect-src"] == "'self'"
    assert csp["object-src"] == "'none'"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["base-uri"] == "'self'" and csp["form-action"] == "'self'"


def test_production_cookies_are_secure(production_responses):
    login = production_responses["login"]
    assert login["status"] == 200
    csrf = login["cookies"]["csrftoken"]
    assert csrf["secure"] is True
    assert HEADER in login["headers"]


def test_production_redirects_plain_http_to_https(production_responses):
    answer = production_responses["http"]
    assert answer["status"] == 301
    assert answer["headers"]["Location"] == f"https://{HOST}/"
    # HSTS only over HTTPS: browsers ignore it on plain HTTP anyway.
    assert "Strict-Transport-Security" not in answer["headers"]


def test_production_ignores_a_forged_forwarded_proto_without_trust_proxy_headers(
    production_responses,
):
    assert production_responses["forged_proto"]["status"] == 301


def test_json_answers_carry_no_csp_but_keep_the_other_headers(production_responses):
    api = production_responses["api"]
    assert api["status"] == 200
    assert api["headers"]["Content-Type"].startswith("application/json")
    assert HEADER not in api["headers"]
    assert api["headers"]["X-Content-Type-Options"] == "nosniff"


def test_local_debug_settings_keep_plain_http_working(tmp_path):
    """`make run` (DEBUG=1): no redirect to HTTPS, no HSTS, cookies without Secure."""
    script = (
        "import django; django.setup(); from django.conf import settings as s\n"
        "csp = 'config.security.ContentSecurityPolicyMiddleware' in s.MIDDLEWARE\n"
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE,"
        " s.CSRF_COOKIE_SECURE, csp)"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DEBUG": "1",
        "VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "0", "False", "False", "True"]


# --- The policy follows where media is served from (in this process) --------------------------


@pytest.mark.django_db
def test_pages_carry_the_csp_in_every_mode(client):
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert page[HEADER] == content_security_policy()
    assert "script-src 'self';" in page[HEADER]


def test_an_s3_bucket_is_allowed_for_images_and_direct_uploads(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "modelhub",
                "endpoint_url": "https://s3.example.net:9000",
                "region_name": "us-east-1",
                "querystring_auth": True,
                "signature_version": "s3v4",
                "addressing_style": "path",
            },
        },
    }
    policy = content_security_policy()
    assert "img-src 'self' data: blob: https://s3.example.net:9000;" in policy
    assert "connect-src 'self' https://s3.example.net:9000;" in policy


def test_virtual_hosted_aws_buckets_name_the_bucket_host(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "hub-media",
                "region_name": "eu-west-1",
                "signature_version": "s3v4",
                "addressing_style": "virtual",
            },
        },
    }
    assert "https://hub-media.s3.eu-west-1.amazonaws.com" in content_security_policy()


def test_media_on_another_origin_is_allowed_for_images_only(settings):
    settings.MEDIA_URL = "https://cdn.example.net/media/"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"base_url": "https://cdn.example.net/media/"},
        },
    }
    policy = content_security_policy()
    assert "img-src 'self' data: blob: https://cdn.example.net;" in policy
    assert "connect-src 'self';" in policy


def test_a_response_with_its_own_policy_keeps_it(rf):
    def view(request):
        response = HttpResponse("<p>x</p>")
        response[HEADER] = "default-src 'none'"
        return response

    assert ContentSecurityPolicyMiddleware(view)(rf.get("/"))[HEADER] == "default-src 'none'"
    plain = ContentSecurityPolicyMiddleware(lambda request: HttpResponse("<p>x</p>"))
    assert plain(rf.get("/"))[HEADER] == content_security_policy()


def test_the_suite_turns_off_only_the_https_redirect():
    # tests/settings.py: plain HTTP for the test client. The other values follow DEBUG (which
    # `make test` sets, as `make run` does); production's are checked in the subprocesses.
    assert live_settings.SECURE_SSL_REDIRECT is False
    assert "config.security.ContentSecurityPolicyMiddleware" in live_settings.MIDDLEWARE
