"""HTML pages and the download endpoint. Thin: parse, call a selector or service, render."""

from __future__ import annotations

import mimetypes
import posixpath

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods

from models_hub.choices import CommercialUse, ModelType, NsfwLevel
from models_hub.forms import UploadForm, VersionUploadForm
from models_hub.models import BaseModel, Model, ModelFile, ModelVersion, Tag
from models_hub.querysets import browsing_level_of
from models_hub.selectors import BrowseFilters, browse_models, model_page
from models_hub.services import download_record, model_upload

PAGE_SIZE = 24


@require_GET
def browse(request: HttpRequest) -> HttpResponse:
    filters = BrowseFilters.from_params(request.GET)
    paginator = Paginator(browse_models(request.user, filters), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    allowed = browsing_level_of(request.user)
    return render(
        request,
        "models_hub/browse.html",
        {
            "page": page,
            "filters": filters,
            "model_types": ModelType.choices,
            "base_models": BaseModel.objects.all(),
            "popular_tags": Tag.objects.order_by("name")[:40],
            "commercial_choices": [c for c in CommercialUse if c != CommercialUse.NONE],
            "nsfw_choices": [level for level in NsfwLevel.viewable() if level & allowed],
            "selected_levels": [lvl.value for lvl in NsfwLevel if filters.nsfw_levels & lvl],
            "sorts": [
                ("newest", "Newest"),
                ("downloads", "Most downloaded"),
                ("likes", "Most liked"),
            ]
            + ([("relevance", "Relevance")] if filters.query else []),
        },
    )


@require_GET
def model_detail(request: HttpRequest, pk: int, slug: str = "") -> HttpResponse:
    version_id = request.GET.get("version")
    page = model_page(
        request.user, pk, int(version_id) if version_id and version_id.isdigit() else None
    )
    return render(request, "models_hub/detail.html", {"p": page})


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    return _handle_upload(request, form, template="models_hub/upload.html")


@login_required
@require_http_methods(["GET", "POST"])
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
    context = {"form": form, "model": getattr(form, "model", None)}
    if request.method == "POST":
        if form.is_valid():
            try:
                version = model_upload(owner=request.user, **form.service_arguments())
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, messages)
            else:
                url = version.model.get_absolute_url() + f"?version={version.pk}"
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


@require_GET
def download(request: HttpRequest, version_id: int) -> HttpResponse:
    """Serve one file of a version the caller may see, and count it.

    Without `fileId` the primary file is sent. Local storage streams the file; S3 answers
    with a redirect to a presigned URL that names the file for the browser.
    """
    version = ModelVersion.objects.visible_to(request.user).filter(pk=version_id).first()
    if version is None:
        return _json_404(f"No model version with id {version_id}")
    files = ModelFile.objects.filter(version=version)
    file_id = request.GET.get("fileId", "")
    if file_id:
        if not file_id.isdigit():
            return JsonResponse({"error": "fileId must be a number"}, status=400)
        model_file = files.filter(pk=int(file_id)).first()
    else:
        model_file = files.filter(is_primary=True).first() or files.order_by("id").first()
    if model_file is None:
        return _json_404(f"No file for model version {version_id}")
    download_record(model_file=model_file)
    if not isinstance(default_storage, FileSystemStorage):
        url = default_storage.url(
            model_file.file.name,
            parameters={
                "ResponseContentDisposition": content_disposition_header(True, model_file.name)
            },
        )
        return HttpResponseRedirect(url)
    response = FileResponse(
        model_file.file.open("rb"), as_attachment=True, filename=model_file.name
    )
    response["Content-Type"] = "application/octet-stream"
    return response


# Only gallery images and thumbnails are public media; model files go through `download`.
PUBLIC_MEDIA_PREFIXES = ("images/", "thumbs/")


@require_GET
def media(request: HttpRequest, path: str) -> HttpResponse:
    """Serve gallery media from local storage (embedded mode; nginx does it in production)."""
    path = posixpath.normpath(path).lstrip("/")
    if not path.startswith(PUBLIC_MEDIA_PREFIXES) or ".." in path.split("/"):
        raise Http404
    if not isinstance(default_storage, FileSystemStorage) or not default_storage.exists(path):
        raise Http404
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    response = FileResponse(default_storage.open(path, "rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400"
    return response
