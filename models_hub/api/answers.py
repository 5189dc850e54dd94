"""Anonymous answers of the read API, kept a minute in the cache and dropped at once when
public content changes.

A page of 100 models is 3.4 MB of JSON: about 200 ms of one core to read and shape, so two
cores answer a handful of such pages a second however fast each step is (docs/PERFORMANCE.md).
Every anonymous caller asking the same address in the same language gets the same bytes, and
anonymous answers are already declared public for a minute (config/middleware.py
PUBLIC_MAX_AGE): a shared cache in front of the site may keep them that long. Here the web
processes share one copy in Redis instead, and do better than a proxy could: a takedown is
gone at once.

Invalidation is by a stamp. Every kept answer carries the stamp it was made under; a change
to anything an answer can show (a model, version, file, image, tag, licence, base model or
member saved or deleted, or a moderator's decision) writes a new stamp once its transaction
commits, and answers under an older one are made again. The stamp and the answer are read in
one round trip. Counters (downloads, likes, reviews) are written with UPDATE and do not
change the stamp: they may be a minute old, as in the list totals (list_cache.py).

Callers with a key or a session are never served from here: what they may see is their own.
Off unless HUB_API_ANSWER_CACHE_SECONDS is set (config/settings.py: on with REDIS_URL, where
every process, web and worker, shares the stamp).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse
from django.utils.translation import get_language
from rest_framework.request import Request
from rest_framework.response import Response

from config.clients import unless_cache_away
from config.renderers import FastJSONRenderer

STAMP_KEY = "api-public-stamp"
_RENDERER = FastJSONRenderer()


def public_content_changed() -> None:
    """Retire every kept answer, once the current transaction (if any) commits: an answer
    made before the commit would otherwise be kept under the new stamp."""
    if settings.HUB_API_ANSWER_CACHE_SECONDS > 0:
        transaction.on_commit(_new_stamp)


def _new_stamp() -> None:
    # With the cache away no answer is served from it either. A write lost to a blip
    # leaves answers as they were: at most HUB_API_ANSWER_CACHE_SECONDS old, as a proxy's.
    with unless_cache_away("Answer"):
        cache.set(STAMP_KEY, uuid.uuid4().hex, None)


def kept_answer(request: Request, make: Callable[[], Response]) -> HttpResponse | Response:
    """`make()`, or for an anonymous caller the bytes of the same answer made under the
    current stamp within HUB_API_ANSWER_CACHE_SECONDS. Only 200s are kept."""
    seconds = settings.HUB_API_ANSWER_CACHE_SECONDS
    plain_json = "indent" not in (getattr(request, "accepted_media_type", "") or "")
    if seconds <= 0 or request.user.is_authenticated or request.auth or not plain_json:
        return make()
    address = f"{get_language()} {request.build_absolute_uri()}"
    key = "api-answer:" + hashlib.sha256(address.encode()).hexdigest()[:40]
    found = None
    with unless_cache_away("Answer"):
        found = cache.get_many([STAMP_KEY, key])
    if found is None:
        return make()
    stamp = found.get(STAMP_KEY, "")
    kept = found.get(key)
    if kept is not None and kept[0] == stamp:
        return _json_response(kept[1])
    response = make()
    if response.status_code != 200:
        return response
    body = _RENDERER.render(response.data)
    with unless_cache_away("Answer"):
        cache.set(key, (stamp, body), seconds)
    return _json_response(body)


def _json_response(body: bytes) -> HttpResponse:
    # DRF's finalize_response adds the view's own headers (Allow, Vary: Accept) to it.
    return HttpResponse(body, content_type="application/json")
