"""Content-Security-Policy for every HTML page. Django 5.2 has none built in.

The policy allows this site's own files and, where media is served from elsewhere (an
absolute MEDIA_URL, or an S3 bucket reached through signed URLs), that origin for images,
plus the bucket for the browser's direct-to-bucket upload requests. Templates carry no inline
<script> or <style> blocks, and static/js/ uses no eval, inline handlers or javascript: URLs;
a few `style="..."` attributes remain, hence style-src-attr. The policy is on in every mode,
DEBUG included, so the browser journeys (tests/e2e) see the violations production would.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

HEADER = "Content-Security-Policy"
# Any key will do: only the origin of the URL the storage would hand out is kept.
_PROBE_KEY = "csp-origin-probe"


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an absolute http(s) URL; None for a path on this site."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _is_s3(backend: type) -> bool:
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:  # pragma: no cover - django-storages is a dependency
        return False
    return issubclass(backend, S3Storage)


def media_origin() -> tuple[str | None, bool]:
    """The origin media URLs point to when it is not this site, and whether it is an S3
    bucket (which the upload page then also sends parts to).

    Asks the configured storage for a URL instead of rebuilding S3's rules (path or virtual
    addressing, regional hosts, custom domains). With S3, made-up credentials stand in for the
    real ones: signing a URL is local, the origin does not depend on the key, and no lookup
    of an instance role (a network call) happens here."""
    config = settings.STORAGES["default"]
    backend = import_string(config["BACKEND"])
    options = dict(config.get("OPTIONS") or {})
    s3 = _is_s3(backend)
    if s3:
        options.update(
            access_key="csp-probe",
            secret_key="csp-probe",
            security_token=None,
            session_profile=None,
        )
    try:
        url = backend(**options).url(_PROBE_KEY)
    except Exception:
        # A storage that cannot name a URL offline: fall back to MEDIA_URL rather than break
        # every page; images from elsewhere will show up as CSP reports in the console.
        logger.warning("Could not derive the media origin for the CSP", exc_info=True)
        url = settings.MEDIA_URL
    return origin_of(url), s3


@functools.cache
def content_security_policy() -> str:
    media, s3 = media_origin()
    extra = [media] if media else []
    directives = {
        "default-src": ["'self'"],
        # data: for the BlurHash placeholders (static/js/blurhash.js). blob: for pictures a
        # page's own script makes (none yet); only this origin's scripts can mint blob: URLs.
        "img-src": ["'self'", "data:", "blob:", *extra],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # Only style="..." attributes (sizes and aspect ratios in a few templates), never a
        # <style> block.
        "style-src-attr": ["'unsafe-inline'"],
        # The bucket: static/js/upload.js PUTs parts to presigned URLs with S3 storage.
        "connect-src": ["'self'", *(extra if s3 else [])],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


@receiver(setting_changed)
def _forget_policy(*, setting: str, **kwargs) -> None:
    # Tests switch storage with override_settings; the policy must follow.
    if setting in {"STORAGES", "MEDIA_URL"}:
        content_security_policy.cache_clear()


class ContentSecurityPolicyMiddleware:
    """Adds the policy to HTML responses that do not carry one of their own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        is_html = response.get("Content-Type", "").startswith("text/html")
        if is_html and HEADER not in response:
            response[HEADER] = content_security_policy()
        return response
