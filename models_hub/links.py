"""Links to this site's model pages, as people paste them (parents on the upload form, the
upload named in a takedown request). Resolved by the site's own routes, and only for this
site's hosts: a Civitai link has the same /models/<id> path and must not name our model
<id>."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.http.request import validate_host
from django.urls import Resolver404, resolve

from models_hub.params import parse_id

MODEL_PAGES = ("models_hub:detail", "models_hub:detail_short")


@dataclass(frozen=True)
class ModelLink:
    model_id: int
    version_id: int | None  # None: the link names the model, not one of its versions


def _is_own_host(host: str) -> bool:
    own = [urlsplit(settings.SITE_URL).hostname or ""]
    # "*" would take every site's links for ours.
    own += [pattern for pattern in settings.ALLOWED_HOSTS if pattern != "*"]
    return validate_host(host, own)


def model_link(text: str) -> ModelLink | None:
    """The model page a link (absolute on this site, or a path) points at, or None."""
    try:
        parts = urlsplit((text or "").strip())
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme not in ("", "http", "https") or (host and not _is_own_host(host)):
        return None
    path = parts.path if parts.path.endswith("/") else parts.path + "/"  # as APPEND_SLASH
    try:
        match = resolve(path)
    except Resolver404:
        return None
    if match.view_name not in MODEL_PAGES:
        return None
    version = (parse_qs(parts.query).get("version") or [""])[0]
    return ModelLink(model_id=match.kwargs["pk"], version_id=parse_id(version))
