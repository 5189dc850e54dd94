"""Settings for every environment, read from environment variables (see .env.example).

With no variables set, the site runs embedded: SQLite, files under var/media, Celery over
kombu's filesystem transport. Setting DATABASE_URL, REDIS_URL and the S3_* variables moves
it to the full stack without any other file.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.env import database_from_url, env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-for-debug-mode"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_NAME = env_str("SITE_NAME", "ModelHub")
# Where links in e-mails point (no request to take the host from when a worker sends them).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# E-mail: printed to the console unless an SMTP server is configured.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ModelHub <noreply@localhost>")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "community",
    "models_hub",
    "moderation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Early, so that its response half also covers pages other middleware answer (CSRF 403).
    "config.security.ContentSecurityPolicyMiddleware",
    # Static files from the web process itself (compressed, cached forever by hashed name).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before sessions, CSRF and messages: it sees every cookie they set (none may be public).
    "config.middleware.CookiesArePrivateMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, before CommonMiddleware: the language cookie, else Accept-Language.
    "config.i18n.SiteLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware.PublicApiHeadersMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "community.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "models_hub:browse"
LOGOUT_REDIRECT_URL = "models_hub:browse"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "models_hub.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"), BASE_DIR
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Pages follow the language picked in the footer (Django's language cookie), then the
# browser's Accept-Language, then English. URLs carry no language prefix, and the API under
# /api/ always answers in English (config.i18n).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ja", "日本語")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
MEDIA_URL = env_str("MEDIA_URL", "/media/")
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

# --- Storage: local disk by default, S3 (or MinIO) when a bucket is named -----------------
S3_BUCKET = env_str("S3_BUCKET")
if S3_BUCKET:
    _s3_options = {
        "bucket_name": S3_BUCKET,
        "endpoint_url": env_str("S3_ENDPOINT_URL") or None,
        "region_name": env_str("S3_REGION", "us-east-1"),
        "access_key": env_str("S3_ACCESS_KEY_ID") or None,
        "secret_key": env_str("S3_SECRET_ACCESS_KEY") or None,
        # Private bucket: every object is reached through a short-lived signed URL.
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": env_int("S3_URL_EXPIRE_SECONDS", 300),
        "file_overwrite": False,
        "signature_version": "s3v4",
        "addressing_style": env_str("S3_ADDRESSING_STYLE", "path"),
    }
    DEFAULT_STORAGE = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": _s3_options}
else:
    DEFAULT_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Uploads -------------------------------------------------------------------------------
# Files above this size are streamed to a temp file by Django instead of held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = env_str("FILE_UPLOAD_TEMP_DIR") or None
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
DATA_UPLOAD_MAX_NUMBER_FILES = 100
HUB_MAX_MODEL_FILES = env_int("HUB_MAX_MODEL_FILES", 10)
HUB_MAX_GALLERY_IMAGES = env_int("HUB_MAX_GALLERY_IMAGES", 20)
HUB_MAX_IMAGE_PIXELS = env_int("HUB_MAX_IMAGE_PIXELS", 40_000_000)
HUB_MAX_IMAGE_BYTES = env_int("HUB_MAX_IMAGE_BYTES", 30 * 1024 * 1024)
# Resumable uploads: where their parts collect, the largest file and the largest chunk.
HUB_UPLOAD_DIR = Path(env_str("HUB_UPLOAD_DIR", str(VAR_DIR / "uploads")))
HUB_MAX_UPLOAD_BYTES = env_int("HUB_MAX_UPLOAD_BYTES", 50 * 1024**3)
HUB_UPLOAD_CHUNK_BYTES = env_int("HUB_UPLOAD_CHUNK_BYTES", 64 * 1024**2)
# With local storage behind nginx: the internal location that maps to MEDIA_ROOT (e.g.
# "/protected/"), so nginx sends model files itself. Empty: Django streams them.
HUB_DOWNLOAD_ACCEL_PREFIX = env_str("HUB_DOWNLOAD_ACCEL_PREFIX")

# Checks on uploads (moderation/). A face this close to a protected person's reference photo
# is a match (dlib's own figure: 0.6 tells people apart 99.38% of the time on LFW).
HUB_LIKENESS_THRESHOLD = env_float("HUB_LIKENESS_THRESHOLD", 0.6)
# A moderator's claim on a queue item lapses after this long without an action.
HUB_QUEUE_CLAIM_MINUTES = env_int("HUB_QUEUE_CLAIM_MINUTES", 30)
# Reports one member may send in an hour, and takedown requests one address may send in a day.
HUB_REPORTS_PER_HOUR = env_int("HUB_REPORTS_PER_HOUR", 10)
HUB_TAKEDOWNS_PER_DAY = env_int("HUB_TAKEDOWNS_PER_DAY", 5)
# API calls (v1, moderation API, downloads) per minute: per API key, and per address for
# calls without one. Counted in the cache, so set REDIS_URL when running several processes.
HUB_API_REQUESTS_PER_MINUTE_PER_KEY = env_int("HUB_API_REQUESTS_PER_MINUTE_PER_KEY", 300)
HUB_API_REQUESTS_PER_MINUTE_PER_ADDRESS = env_int("HUB_API_REQUESTS_PER_MINUTE_PER_ADDRESS", 120)
# Deliveries of one check that may start before it is given up as a poison input.
HUB_JOB_MAX_ATTEMPTS = env_int("HUB_JOB_MAX_ATTEMPTS", 3)
# Work still waiting for a worker after this long is sent again by the sweeper.
HUB_SWEEP_PENDING_AFTER = env_int("HUB_SWEEP_PENDING_AFTER", 900)
HUB_SWEEP_INTERVAL = env_int("HUB_SWEEP_INTERVAL", 300)
HUB_RESCAN_BATCH_SIZE = env_int("HUB_RESCAN_BATCH_SIZE", 500)
# How long lists keep their total count and the popular tags (seconds; 0: always fresh).
# At 100,000 models an exact count of what a filter matches took 70-140 ms of every list
# request (docs/PERFORMANCE.md); a minute-old figure is what public caches serve anyway.
HUB_LIST_CACHE_SECONDS = env_int("HUB_LIST_CACHE_SECONDS", 60)

# --- Cache and Celery ------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
# How long anonymous answers of the read API are kept (seconds; 0: made every time). Changes
# to public content retire them at once (models_hub/api/answers.py), which needs one cache
# every process shares: on by default with Redis only.
HUB_API_ANSWER_CACHE_SECONDS = env_int("HUB_API_ANSWER_CACHE_SECONDS", 60 if REDIS_URL else 0)
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Queues by cost: `scan` (model files: slow, heavy I/O), `images` (gallery work), `default`.
# "localhost" only names the transport host; without it kombu logs a warning on each use.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://localhost/")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Embedded mode: kombu's filesystem transport gives `make run` a real worker process
    # without Redis. The folder is shared by the web process and the worker.
    CELERY_QUEUE_DIR = Path(env_str("CELERY_QUEUE_DIR", str(VAR_DIR / "celery-queue")))
    for _sub in ("queue", "processed", "control"):
        (CELERY_QUEUE_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_QUEUE_DIR / "queue"),
        "data_folder_out": str(CELERY_QUEUE_DIR / "queue"),
        "processed_folder": str(CELERY_QUEUE_DIR / "processed"),
        # Otherwise kombu writes its control files into the current directory.
        "control_folder": str(CELERY_QUEUE_DIR / "control"),
        "store_processed": False,
    }
else:
    # Longer than the longest hard time limit, so a slow task is not handed out twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 4 * 3600}  # > the hard limit
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
# The database row is the record of every job; Celery keeps no results.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A check or scan that runs past these is stopped (soft: it may clean up; hard: killed).
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3600)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", CELERY_TASK_TIME_LIMIT - 60)
if CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 1e9) <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "CELERY_TASK_TIME_LIMIT must stay below Redis's visibility timeout (4 hours), or a "
        "task still running would be handed to a second worker."
    )
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "models_hub.hash_model_file": {"queue": "scan"},
    "models_hub.scan_model_file": {"queue": "scan"},
    "models_hub.process_gallery_image": {"queue": "images"},
}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-uploads": {"task": "models_hub.sweep_stale_uploads", "schedule": 3600.0},
    "sweep-stuck-work": {
        "task": "moderation.sweep_stuck_work",
        "schedule": float(HUB_SWEEP_INTERVAL),
    },
}

# --- Logging ---------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["config.renderers.FastJSONRenderer"],
    # The key first: DRF takes the first class's WWW-Authenticate, so a bad key is a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "community.api_auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["config.throttling.ApiRateLimit"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
# The OpenAPI schema (/api/schema/) and its browser (/api/docs/), with Swagger UI's files from
# the sidecar package: nothing is fetched from a CDN.
SPECTACULAR_SETTINGS = {
    "TITLE": "ModelHub API",
    "DESCRIPTION": (
        "Compatible with Civitai's public REST API v1: the same paths, shapes, enums and "
        "pagination, so existing clients work when pointed at this host. Authenticate with "
        "`Authorization: Bearer <key>` or `?token=<key>`; create keys on your account page."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "models_hub.api.schema.allow_empty_query_values",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ModelTypeEnum": "models_hub.choices.ModelType",
        "FileTypeEnum": "models_hub.choices.FileType",
        "FileFormatEnum": "models_hub.choices.FileFormat",
        "ScanResultEnum": "models_hub.choices.ScanResult",
    },
}

# --- Security: the production defaults; DEBUG relaxes only what local HTTP needs -------------
# `manage.py check --deploy --fail-level WARNING` passes with these (CI runs it, see .ci/run).
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Django's defaults, stated because the deploy check and docs/DEPLOY.md rely on them.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
# Plain-HTTP requests are redirected to HTTPS. Behind a TLS proxy, set TRUST_PROXY_HEADERS so
# Django can tell which requests arrived over HTTPS; without it every request would redirect.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# HSTS (sent on HTTPS responses only): a year, subdomains included, and the `preload` token.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if not SECURE_HSTS_PRELOAD and env_str("SECURE_HSTS_PRELOAD").strip():
    # security.W021 only asks whether the site wants to be on the browsers' preload list; an
    # operator who set SECURE_HSTS_PRELOAD=0 has answered it (its other checks stay on).
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
TRUST_PROXY_HEADERS = env_bool("TRUST_PROXY_HEADERS", False)
if TRUST_PROXY_HEADERS:
    # Only behind a proxy that sets this header itself; otherwise clients could forge it.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
