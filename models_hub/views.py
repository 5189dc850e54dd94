"""HTML pages and the download endpoint. Thin: parse, call a selector or service, render."""

from __future__ import annotations

import errno
import logging
import mimetypes
import posixpath
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection
from django.db.models import Q
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from community.api_auth import key_or_refusal
from community.models import User
from community.selectors import model_social
from config.middleware import public_when_anonymous
from config.throttling import rate_limit_for
from models_hub.choices import CommercialUse, ModelType, NsfwLevel, Status
from models_hub.direct_uploads import direct_uploads_available
from models_hub.forms import UploadForm, VersionUploadForm
from models_hub.keyset import keyset_page
from models_hub.list_cache import CachedCountPaginator
from models_hub.models import BaseModel, GalleryImage, Model, ModelFile, ModelVersion
from models_hub.params import parse_id
from models_hub.querysets import above_browsing_level, browsing_level_of
from models_hub.ranges import Unsatisfiable, attachment_header, iter_span, parse_range
from models_hub.selectors import SORTS, BrowseFilters, browse_models, model_page, popular_tags
from models_hub.services import download_record, model_upload
from models_hub.validation import UploadsSuspended, check_not_suspended
from moderation.selectors import removal_notice, version_checks
from moderation.views import guidelines_language

PAGE_SIZE = 24
# A member's own drafts, which their lists show, have no published_at yet (nor has a model
# marked published in the admin): keyset.py puts those first in "newest" on either database.
BROWSE_NULLABLE = frozenset({"published_at"})
# Only PostgreSQL ranks search results; elsewhere "relevance" would quietly mean "newest".
RANKED_SEARCH = connection.vendor == "postgresql"
log = logging.getLogger(__name__)


@require_GET
@public_when_anonymous()
def browse(request: HttpRequest) -> HttpResponse:
    filters = BrowseFilters.from_params(request.GET)
    # Next and Previous carry a keyset cursor, so deep pages cost what page 1 does; a typed
    # ?page=N still works by offset. Relevance is ranked per query and has no keyset (None).
    page = keyset_page(
        browse_models(request.user, filters),
        SORTS.get(filters.sort),
        per_page=PAGE_SIZE,
        number=request.GET.get("page"),
        after_cursor=request.GET.get("cursor"),
        before_cursor=request.GET.get("before"),
        nullable=BROWSE_NULLABLE,
        paginator_class=CachedCountPaginator,
    )
    allowed = browsing_level_of(request.user)
    return render(
        request,
        "models_hub/browse.html",
        {
            "page": page,
            "filters": filters,
            "model_types": ModelType.choices,
            "base_models": BaseModel.objects.all(),
            "popular_tags": popular_tags(),
            "commercial_choices": [c for c in CommercialUse if c != CommercialUse.NONE],
            "nsfw_choices": [level for level in NsfwLevel.viewable() if level & allowed],
            "selected_levels": [lvl.value for lvl in NsfwLevel if filters.nsfw_levels & lvl],
            "sorts": [
                ("newest", _("Newest")),
                ("downloads", _("Most downloaded")),
                ("likes", _("Most liked")),
            ]
            + ([("relevance", _("Relevance"))] if filters.query and RANKED_SEARCH else []),
        },
    )


@require_GET
def model_detail(request: HttpRequest, pk: int, slug: str = "") -> HttpResponse:
    raw_version = request.GET.get("version")
    version_id = parse_id(raw_version)
    if raw_version and version_id is None:
        raise Http404("No such version.")
    try:
        page = model_page(
            request.user, pk, version_id, images_page=_page_number(request.GET.get("images"))
        )
    except Http404:
        removed = _removed_page(request, pk, version_id)
        if removed is None:
            raise
        return removed
    if slug != page.model.slug:
        # One address per model: old or mistyped slugs lead to the current one.
        url = page.model.get_absolute_url()
        return redirect(f"{url}?{request.GET.urlencode()}" if request.GET else url)
    social = model_social(
        request.user,
        page.model,
        page.version,
        page.images,
        reviews_page=_page_number(request.GET.get("reviews")),
        comments_page=_page_number(request.GET.get("comments")),
    )
    return render(request, "models_hub/detail.html", {"p": page, "social": social})


# Deeper pages of images, reviews or comments than this are treated as the first (a link
# nobody follows by hand, and an offset that grows with it).
MAX_DISCUSSION_PAGE = 500


def _page_number(raw: str | None) -> int:
    number = parse_id(raw)
    return number if number is not None and number <= MAX_DISCUSSION_PAGE else 1


def _removed_page(request: HttpRequest, pk: int, version_id: int | None) -> HttpResponse | None:
    """For content this visitor may not see that a moderator removed: a 410 naming the rule
    and the date, and nothing about the content itself (no redirect to the slug either: it
    is the name). None for everything else, which stays a plain 404."""
    language = guidelines_language(request)
    notice = removal_notice(pk, version_id, language)
    if notice is None:
        return None
    response = render(
        request,
        "moderation/removed.html",
        {"notice": notice, "language": language},
        status=410,
    )
    # An appeal may bring the content back: caches ask again every time.
    response["Cache-Control"] = "no-cache"
    return response


@require_safe
def version_checks_status(request: HttpRequest, pk: int, version_id: int) -> JsonResponse:
    """Live status of a version's checks, polled by its page while they run (owner, staff)."""
    version = get_object_or_404(
        ModelVersion.objects.visible_to(request.user).select_related("model"),
        pk=version_id,
        model_id=pk,
    )
    if not (request.user.is_staff or version.model.owner_id == request.user.pk):
        raise Http404("No such version.")
    data = version_checks(version).as_json()
    data.update(
        status=version.status,
        decision=version.decision,
        reason=version.hold_reason,
        nothing_found=_("Nothing found"),
    )
    response = JsonResponse(data)
    response["Cache-Control"] = "no-store"
    return response


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


NO_ROOM_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _no_room_is_a_503(view):
    """A disk that fills while an upload arrives (Django's temporary files, or the storage):
    a page that says so and asks to try later, not a 500. Nothing is kept: the temporary
    files are deleted, and the upload service removes what it had stored."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except OSError as exc:
            if exc.errno not in NO_ROOM_ERRNOS:
                raise
            log.error("No room for an upload by %s: %s", request.user.pk, exc)
            # The file being written when the disk filled is still open in its handler;
            # closing a temporary upload deletes it now rather than whenever it is collected.
            for handler in request.upload_handlers:
                partial = getattr(handler, "file", None)
                if partial is not None:
                    partial.close()
            response = render(request, "models_hub/upload_no_room.html", status=503)
            response["Retry-After"] = "600"
            return response

    return wrapper


def _not_while_suspended(view):
    """A suspended member keeps their account but uploads nothing until the date (the upload
    services refuse too; this shows it before the form is filled in)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            check_not_suspended(request.user)
        except UploadsSuspended:
            return render(request, "models_hub/suspended.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


@login_required
@require_http_methods(["GET", "POST"])
@_not_while_suspended
@_no_room_is_a_503
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    return _handle_upload(request, form, template="models_hub/upload.html")


@login_required
@require_http_methods(["GET", "POST"])
@_not_while_suspended
@_no_room_is_a_503
def version_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a version to one of your own models (404 for anyone else's)."""
    model = get_object_or_404(
        Model.objects.visible_to(request.user).filter(owner=request.user), pk=pk
    )
    form = VersionUploadForm(
        request.POST or None, request.FILES or None, user=request.user, model=model
    )
    return _handle_upload(request, form, template="models_hub/version_upload.html")


def _handle_upload(request: HttpRequest, form: UploadForm, *, template: str) -> HttpResponse:
    context = {
        "form": form,
        "model": getattr(form, "model", None),
        "direct_uploads": direct_uploads_available(),
    }
    if request.method == "POST":
        if form.is_valid():
            try:
                version = model_upload(owner=request.user, **form.service_arguments())
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, messages)
            else:
                url = version.get_absolute_url()
                if _wants_json(request):
                    return JsonResponse(
                        {"modelId": version.model_id, "versionId": version.pk, "url": url},
                        status=201,
                    )
                return redirect(url)
        if _wants_json(request):
            return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
        return render(request, template, context, status=400)
    return render(request, template, context)


def _json_404(message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=404)


@require_safe
def download(request: HttpRequest, version_id: int) -> HttpResponse:
    """Serve one file of a version the caller may see, and count it (GET only, not HEAD).

    Without `fileId` the primary file is sent. Local storage streams the file; S3 answers
    with a redirect to a presigned URL that names the file for the browser.
    """
    # Tools send an API key (?token= or Bearer) instead of a session, as Civitai's do.
    key, refusal = key_or_refusal(request, "download")
    if refusal is not None:
        return refusal
    if (wait := rate_limit_for(request, key)) is not None:
        response = JsonResponse({"error": f"Too many requests: try again in {wait} s."}, status=429)
        response["Retry-After"] = str(wait)
        return response
    user = key.user if key else request.user
    version = ModelVersion.objects.visible_to(user).filter(pk=version_id)
    version = version.first()
    if version is None:
        return _json_404(f"No model version with id {version_id}")
    files = ModelFile.objects.filter(version=version)
    raw_file_id = request.GET.get("fileId", "")
    if raw_file_id:
        file_id = parse_id(raw_file_id)
        if file_id is None:
            return JsonResponse({"error": "fileId must be a positive whole number"}, status=400)
        model_file = files.filter(pk=file_id).first()
    else:
        model_file = files.filter(is_primary=True).first() or files.order_by("id").first()
    if model_file is None:
        return _json_404(f"No file for model version {version_id}")
    if model_file.is_quarantined:
        return JsonResponse(
            {"error": f"This file is quarantined and can never be downloaded: "
                      f"{model_file.scan_message}"},
            status=403,
        )  # fmt: skip

    counted = request.method == "GET"
    if settings.HUB_DOWNLOAD_ACCEL_PREFIX and isinstance(default_storage, FileSystemStorage):
        # nginx sends the bytes (and answers Range itself) from an internal location.
        response: HttpResponse = HttpResponse(content_type="application/octet-stream")
        response["X-Accel-Redirect"] = settings.HUB_DOWNLOAD_ACCEL_PREFIX + model_file.file.name
        response["Content-Disposition"] = attachment_header(model_file.name)
        counted = counted and _counts_as_download(
            request.headers.get("Range"), model_file.size_bytes
        )
    elif isinstance(default_storage, FileSystemStorage):
        try:
            stream = model_file.file.open("rb")
        except OSError:
            log.exception("Stored file %s of ModelFile %s is missing", model_file.file.name,
                          model_file.pk)  # fmt: skip
            return JsonResponse({"error": "This file is not available right now."}, status=503)
        response, first_part = _ranged_file_response(request, stream, model_file)
        counted = counted and first_part
    else:
        disposition = attachment_header(model_file.name)
        response = HttpResponseRedirect(
            default_storage.url(
                model_file.file.name, parameters={"ResponseContentDisposition": disposition}
            )
        )
    response["Cache-Control"] = "private, no-store"
    if counted:
        download_record(model_file=model_file)
    return response


COUNTED_PREFIX = 1024 * 1024


def _counts_as_download(range_header: str | None, size: int) -> bool:
    try:
        span = parse_range(range_header, size)
    except Unsatisfiable:
        return False
    return span is None or _counts(*span, size)


def _counts(start: int, end: int, size: int) -> bool:
    """A response counts as a download when it starts the file and carries at least its
    first MiB (or all of a smaller file): resumed parts and probes are not counted again."""
    return start == 0 and end + 1 >= min(size, COUNTED_PREFIX)


def _ranged_file_response(
    request: HttpRequest, stream, model_file: ModelFile
) -> tuple[HttpResponse, bool]:
    """The whole file (200) or the one range asked for (206); 416 past the end.

    Returns the response and whether it counts as a download: a resumed transfer (a range
    that does not start at byte 0) is the same download continuing.
    """
    size = model_file.size_bytes
    etag = f'"{model_file.sha256}"' if model_file.sha256 else f'"{model_file.pk}-{size}"'
    wanted = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if if_range and if_range != etag:
        wanted = None  # the file changed since the client's first part: start over
    try:
        span = parse_range(wanted, size)
    except Unsatisfiable:
        stream.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response, False
    start, end = span if span else (0, size - 1)
    if span is None and request.method == "GET":
        # The whole file: a FileResponse lets the WSGI server use sendfile (gunicorn does).
        response: HttpResponse = FileResponse(stream, content_type="application/octet-stream")
    else:
        body = iter_span(stream, start, end) if request.method == "GET" else iter(())
        if request.method != "GET":
            stream.close()
        response = StreamingHttpResponse(
            body, status=206 if span else 200, content_type="application/octet-stream"
        )
    response["Content-Length"] = str(end - start + 1 if size else 0)
    if span:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    response["Content-Disposition"] = attachment_header(model_file.name)
    # A resumed transfer (not from byte 0) or a probe of a few bytes is not a new download.
    return response, _counts(start, end, size)


def _avatar(path: str) -> HttpResponse:
    """A member's current profile picture is public (a banned member's is not); a replaced
    one is a 404, since every upload gets a new name."""
    if not User.objects.filter(avatar=path, is_active=True).exists():
        raise Http404
    try:
        stream = default_storage.open(path, "rb")
    except OSError:
        raise Http404 from None
    response = FileResponse(stream, content_type="image/webp")
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_safe
def media(request: HttpRequest, path: str) -> HttpResponse:
    """Serve a gallery image or thumbnail from local storage, to those who may see it.

    Only paths that belong to a GalleryImage visible to the caller are served, so a draft's
    or a blocked model's pictures are a 404 even to someone who kept their URL. Model files
    are never served here: they go through `download`.
    """
    path = posixpath.normpath(path).lstrip("/")
    if not isinstance(default_storage, FileSystemStorage) or ".." in path.split("/"):
        raise Http404
    if path.startswith("avatars/"):
        return _avatar(path)
    image = (
        GalleryImage.objects.visible_to(request.user)
        .filter(Q(image=path) | Q(thumbnail=path))
        .select_related("version__model__owner")
        .first()
    )
    if image is None:
        raise Http404
    is_owner = request.user.is_authenticated and image.version.model.owner_id == request.user.pk
    if not (is_owner or request.user.is_staff) and above_browsing_level(
        image.nsfw_level, request.user
    ):
        raise Http404
    try:
        stream = default_storage.open(path, "rb")
    except OSError:
        raise Http404 from None
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    response = FileResponse(stream, content_type=content_type)
    # Only what everyone may see goes to shared caches: a banned member's pictures, served
    # here to staff, must not be kept for the next visitor.
    public = (
        image.version.status == Status.PUBLISHED
        and image.version.model.status == Status.PUBLISHED
        and image.version.model.owner.is_active
        and image.nsfw_level == NsfwLevel.PG
    )
    response["Cache-Control"] = "public, max-age=86400" if public else "private, no-store"
    return response
