"""Settings for test runs: the real settings, with test-only defaults set first."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
# Test runs never touch the developer's var/ (database, media, queue folder).
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="modelhub-test-var-"))

from config.settings import *  # noqa: E402, F403
from config.settings import STATIC_ROOT, STORAGES  # noqa: E402

# Hashing test users' passwords with the production hasher costs ~0.2 s a user.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The manifest storage needs `collectstatic` first; tests render templates without it.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing

# Test clients all call from 127.0.0.1; the rate-limit tests set their own limits.
HUB_API_REQUESTS_PER_MINUTE_PER_KEY = 1_000_000
HUB_API_REQUESTS_PER_MINUTE_PER_ADDRESS = 1_000_000

# The test client and the live server speak plain HTTP, which production redirects to HTTPS.
# Only the redirect is turned off here; the other security settings are the real ones (they
# follow DEBUG, which `make test` sets), and tests/test_deploy_settings.py checks production's
# own values in subprocesses.
SECURE_SSL_REDIRECT = False

# Counts and popular tags are kept a minute in production; tests build and read their rows
# within that minute (and reuse ids), so they read them fresh. tests/models_hub/
# test_list_cache.py turns the cache on to test it.
HUB_LIST_CACHE_SECONDS = 0
# Likewise the API's kept answers (on with REDIS_URL, as CI has); tests/api/
# test_kept_answers.py turns them on.
HUB_API_ANSWER_CACHE_SECONDS = 0
