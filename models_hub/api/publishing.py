"""The upload API (Civitai has none): what the upload page does, for scripts and tools, with
an API key that has the "upload" scope (or the site's session and its CSRF token).

    POST /api/v1/models                              a model and its first version
    POST /api/v1/models/{id}/versions                a new version of your model
    POST /api/v1/model-versions/{id}/publish         publish a draft once its checks pass

Model files go first through the resumable protocol (/api/uploads, see uploads.py) and are
named here by `upload_ids`; small files and sample images may come in the same multipart
request as `model_files` and `images`. The fields and their checks are the upload form's
(forms.UploadForm): the API only translates JSON lists and names into what the form reads,
so a request is refused for exactly the reasons the page would refuse it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.request import Request
from rest_framework.response import Response

from models_hub.forms import UploadForm, VersionUploadForm
from models_hub.models import BaseModel, License, Model, ModelVersion
from models_hub.services import PublishRefused, model_upload, version_request_publish
from models_hub.validation import UploadsSuspended

# Fields a client may send as JSON lists (or repeated in multipart); the form reads them as
# comma-separated text.
LIST_FIELDS = ("tags", "trained_words", "parent_version_ids", "upload_ids")
# Looked up by id, slug or name, so a script need not know our row ids.
NAMED_ROWS = {"base_model": BaseModel, "license": License}


def _row_pk(model, value):
    text = str(value).strip()
    if text.isascii() and text.isdigit():
        return text
    found = (
        model.objects.filter(slug__iexact=text).first()
        or model.objects.filter(name__iexact=text).first()
    )
    return found.pk if found else text  # unknown: the form says it is not a valid choice


def _external_parents(value) -> str:
    """[{"name", "hash", "url"}, ...] as the form's "name | hash | link" lines."""
    if not isinstance(value, list):
        return str(value)
    lines = []
    for parent in value:
        if isinstance(parent, dict):
            parts = [str(parent.get(key) or "") for key in ("name", "hash", "url")]
            lines.append(" | ".join(parts).rstrip(" |"))
        else:
            lines.append(str(parent))
    return "\n".join(lines)


def form_data(data) -> dict:
    """The request's fields (JSON or multipart) as the upload form reads them."""
    out = {}
    for name in data:
        if name in ("model_files", "images"):
            continue  # files come from request.FILES
        many = data.getlist(name) if hasattr(data, "getlist") else None
        value = data.get(name)
        if name in LIST_FIELDS:
            values = many if many is not None else value
            if isinstance(values, list):
                value = ",".join(str(v) for v in values)
        elif name == "external_parents":
            value = _external_parents(value)
        elif name in NAMED_ROWS:
            value = _row_pk(NAMED_ROWS[name], value)
        if isinstance(value, bool):
            value = "on" if value else ""
        out[name] = "" if value is None else value
    return out


def created(request: Request, version: ModelVersion) -> Response:
    return Response(
        {
            "modelId": version.model_id,
            "versionId": version.pk,
            "status": version.get_status_display(),
            "url": request.build_absolute_uri(version.get_absolute_url()),
            "apiUrl": request.build_absolute_uri(
                reverse("models_hub:api_version", args=[version.pk])
            ),
        },
        status=201,
    )


def _refused(errors: dict | list) -> Response:
    return Response({"error": "The upload was refused; see errors.", "errors": errors}, 400)


def upload_version(request: Request, model: Model | None) -> Response:
    """Run the upload form on the request and create the version (and the model)."""
    if not isinstance(request.data, dict):  # a QueryDict (multipart) is a dict too
        return Response({"error": "Send the fields as a JSON object or as form data."}, 400)
    data = form_data(request.data)
    if model is None:
        form = UploadForm(data, request.FILES, user=request.user)
    else:
        form = VersionUploadForm(data, request.FILES, user=request.user, model=model)
    if not form.is_valid():
        return _refused(form.errors.get_json_data())
    try:
        version = model_upload(owner=request.user, **form.service_arguments())
    except UploadsSuspended as exc:
        return Response({"error": str(exc)}, status=403)
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        return _refused(errors)
    return created(request, version)


def own_model(request: Request, model_id: int) -> Model | None:
    return (
        Model.objects.visible_to(request.user)
        .filter(owner=request.user, pk=model_id)
        .select_related("license")
        .first()
    )


def request_publish(request: Request, version_id: int) -> Response:
    # A version of a deleted model is gone for its owner too (querysets.py); the service
    # leaves out only deleted versions, and answered "Published" for one under a deleted model.
    if not ModelVersion.objects.visible_to(request.user).filter(pk=version_id).exists():
        return Response({"error": f"No version with id {version_id} of yours"}, status=404)
    try:
        version = version_request_publish(version_id=version_id, owner=request.user)
    except ModelVersion.DoesNotExist:
        return Response({"error": f"No version with id {version_id} of yours"}, status=404)
    except UploadsSuspended as exc:
        return Response({"error": str(exc)}, status=403)
    except PublishRefused as exc:
        return Response({"error": str(exc)}, status=409)
    return Response({"versionId": version.pk, "status": version.get_status_display()})
