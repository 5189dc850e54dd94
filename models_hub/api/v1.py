"""Civitai's public API v1 (../shared/CIVITAI_API.md): the paths, shapes, enums and
pagination its clients know. Visibility is the site's: what the caller may not see is a 404
with Civitai's error text; NSFW content goes no further than the caller asked for and their
own browsing level allows.

    GET  /api/v1/models                          list and search (page or cursor)
    GET  /api/v1/models/{id}
    GET  /api/v1/model-versions/{id}
    GET  /api/v1/model-versions/by-hash/{hash}   AutoV1, AutoV2, AutoV3, SHA256, CRC32, BLAKE3
    POST /api/v1/model-versions/by-hash          up to 100 hashes at once
    GET  /api/v1/images                          (cursor)
    GET  /api/v1/creators, /api/v1/tags          (page)

and the upload API (publishing.py): POST /api/v1/models, /api/v1/models/{id}/versions,
/api/v1/model-versions/{id}/publish.
"""

from __future__ import annotations

import functools
import hashlib
import re

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from community.api_auth import KeyScope
from models_hub.api import publishing, queries, schema
from models_hub.api.answers import kept_answer
from models_hub.api.pagination import Limits, paginate
from models_hub.api.params import BadParam
from models_hub.api.shapes import (
    creator_json,
    listed_image_json,
    model_json,
    tag_json,
    version_json,
)
from models_hub.list_cache import kept
from models_hub.models import ModelVersion
from models_hub.querysets import browsing_level_of
from models_hub.selectors import versions_by_file_hash, versions_by_file_hashes

_HEX = re.compile(r"^[0-9a-fA-F]{8,64}$")
MAX_HASHES_PER_LOOKUP = 100
# Anyone may read; a key must have been given the "read" scope.
READ_SCOPE = KeyScope.of("read")
UPLOAD_SCOPE = KeyScope.of("upload")


def read_endpoint(
    operation_id: str, summary: str, *, method: str = "GET", keep_answers: bool = True, **openapi
):
    """A v1 view anyone may call (a key needs the read scope), described in the schema. A
    GET's anonymous answers are kept (answers.py) once DRF has authenticated and counted
    the call against the caller's rate limit, unless the view keeps its own."""

    def wrap(view):
        if method == "GET" and keep_answers:
            view = _kept_when_anonymous(view)
        view = api_view([method])(permission_classes([READ_SCOPE])(view))
        return extend_schema(
            operation_id=operation_id,
            tags=["v1"],
            auth=schema.OPTIONAL_AUTH,
            summary=summary,
            **openapi,
        )(view)

    return wrap


def _kept_when_anonymous(view):
    @functools.wraps(view)
    def answer(request: Request, *args, **kwargs) -> HttpResponse:
        return kept_answer(request, lambda: view(request, *args, **kwargs))

    return answer


def _with_what_json_shows(request: Request, versions: QuerySet) -> list[ModelVersion]:
    """`versions` (already kept to what the caller may see) with what version_json shows,
    images within the caller's browsing level."""
    found = list(queries.with_files(versions))
    queries.attach_images(found, browsing_level_of(request.user))
    return found


class ModelsCollection(APIView):
    """GET lists and searches (anyone); POST creates a model (a key with the upload scope)."""

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsAuthenticated(), UPLOAD_SCOPE()]
        return [READ_SCOPE()]

    @extend_schema(
        operation_id="listModels",
        tags=["v1"],
        auth=schema.OPTIONAL_AUTH,
        summary="List and search models",
        parameters=schema.MODELS_PARAMETERS,
        responses={200: schema.page_of("ModelPage", schema.ModelSchema), **schema.ERRORS},
    )
    def get(self, request: Request) -> HttpResponse:
        return kept_answer(request, lambda: self._models_page(request))

    @staticmethod
    def _models_page(request: Request) -> Response:
        search = queries.ModelSearch.from_request(request)
        models, metadata = paginate(
            request,
            search.queryset(request.user),
            search.order,
            Limits(default=100, high=100),
            # Civitai pages by number unless a cursor is given or a text query is searched.
            pages_by_default=not search.query,
        )
        queries.attach_model_images(models, search.levels)
        items = [model_json(request, model, model.api_versions) for model in models]
        return Response({"items": items, "metadata": metadata})

    @extend_schema(
        operation_id="createModel",
        tags=["uploads"],
        summary="Create a model and its first version",
        request={
            "application/json": schema.NewModelSchema,
            "multipart/form-data": schema.NewModelSchema,
        },
        responses={201: schema.CreatedSchema, **schema.ERRORS},
    )
    def post(self, request: Request) -> Response:
        return publishing.upload_version(request, model=None)


@extend_schema(
    operation_id="createModelVersion",
    tags=["uploads"],
    summary="Add a version to your model",
    request={
        "application/json": schema.NewVersionSchema,
        "multipart/form-data": schema.NewVersionSchema,
    },
    responses={201: schema.CreatedSchema, **schema.ERRORS, **schema.NOT_FOUND},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated, UPLOAD_SCOPE])
def model_versions_create(request: Request, model_id: int) -> Response:
    model = publishing.own_model(request, model_id)
    if model is None:
        return Response({"error": f"No model with id {model_id} of yours"}, status=404)
    return publishing.upload_version(request, model=model)


@extend_schema(
    operation_id="publishModelVersion",
    tags=["uploads"],
    summary="Publish your draft once its checks pass",
    request=None,
    responses={200: schema.PublishedSchema, **schema.ERRORS, **schema.NOT_FOUND},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated, UPLOAD_SCOPE])
def version_publish(request: Request, version_id: int) -> Response:
    return publishing.request_publish(request, version_id)


@read_endpoint(
    "getModel",
    "One model with its versions",
    responses={200: schema.ModelSchema, **schema.ERRORS, **schema.NOT_FOUND},
)
def model_detail(request: Request, model_id: int) -> Response:
    model = queries.model_with_versions(request.user, model_id)
    if model is None or not model.api_versions:
        return Response({"error": f"No model with id {model_id}"}, status=404)
    return Response(model_json(request, model, model.api_versions))


@read_endpoint(
    "getModelVersion",
    "One version",
    responses={200: schema.VersionSchema, **schema.ERRORS, **schema.NOT_FOUND},
)
def version_detail(request: Request, version_id: int) -> Response:
    found = _with_what_json_shows(
        request, ModelVersion.objects.visible_to(request.user).filter(pk=version_id)
    )
    if not found:
        return Response({"error": f"No version with id {version_id}"}, status=404)
    return Response(version_json(request, found[0]))


@read_endpoint(
    "getModelVersionByHash",
    "The version holding a file with this hash",
    parameters=[
        OpenApiParameter(
            "file_hash",
            {"type": "string", "pattern": "^[0-9a-fA-F]{8,64}$"},
            OpenApiParameter.PATH,
            description="AutoV1, AutoV2, AutoV3, SHA256, CRC32 or BLAKE3, any case.",
        )
    ],
    responses={200: schema.VersionSchema, **schema.ERRORS, **schema.NOT_FOUND},
)
def version_by_hash(request: Request, file_hash: str) -> Response:
    if not _HEX.match(file_hash):
        return Response({"error": "Give a file hash: 8 to 64 hexadecimal characters."}, status=400)
    # versions_by_file_hash keeps what the caller may see, newest first.
    found = versions_by_file_hash(file_hash, request.user)
    versions = _with_what_json_shows(request, found[:1])
    if not versions:
        return Response({"error": "Model not found"}, status=404)
    return Response(version_json(request, versions[0]))


@read_endpoint(
    "getModelVersionsByHashes",
    "The versions holding files with any of these hashes",
    method="POST",
    request={
        "application/json": {
            "type": "array",
            "maxItems": MAX_HASHES_PER_LOOKUP,
            "items": {"type": "string", "pattern": "^[0-9a-fA-F]{8,64}$"},
        }
    },
    responses={200: schema.VersionSchema(many=True), **schema.ERRORS},
)
def versions_by_hashes(request: Request) -> Response:
    """Body: a JSON array of hashes (Civitai's clients send SHA256s; any of the six work).
    Answer: the versions found, newest first; hashes that match nothing are left out."""
    hashes = request.data
    if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
        raise BadParam('Send a JSON array of file hashes, e.g. ["<sha256>", ...].')
    if len(hashes) > MAX_HASHES_PER_LOOKUP:
        raise BadParam(f"Send at most {MAX_HASHES_PER_LOOKUP} hashes at once.")
    bad = [h for h in hashes if not _HEX.match(h.strip())]
    if bad:
        raise BadParam(f"“{bad[0][:70]}” is not a file hash: 8 to 64 hexadecimal characters.")
    versions = _with_what_json_shows(request, versions_by_file_hashes(hashes, request.user))
    return Response([version_json(request, version) for version in versions])


@read_endpoint(
    "listImages",
    "Gallery images",
    parameters=schema.IMAGES_PARAMETERS,
    responses={200: schema.page_of("ImagePage", schema.ListedImageSchema), **schema.ERRORS},
)
def images_list(request: Request) -> Response:
    images, order = queries.listed_images(request)
    page, metadata = paginate(
        request, images, order, Limits(default=100, high=200, low=0), pages_by_default=False
    )
    return Response({"items": [listed_image_json(request, i) for i in page], "metadata": metadata})


@read_endpoint(
    "listCreators",
    "Creators with published models",
    parameters=schema.DIRECTORY_PARAMETERS,
    responses={200: schema.page_of("CreatorPage", schema.CreatorSchema), **schema.ERRORS},
    # Its page is kept by address (_directory_page): keeping the answer again would let
    # a page made before a change be kept another minute under the new stamp.
    keep_answers=False,
)
def creators_list(request: Request) -> Response:
    return _directory_page(request, queries.creators(request), creator_json)


@read_endpoint(
    "listTags",
    "Tags of published models",
    parameters=schema.DIRECTORY_PARAMETERS,
    responses={200: schema.page_of("TagPage", schema.TagSchema), **schema.ERRORS},
    keep_answers=False,  # kept by address, as creators
)
def tags_list(request: Request) -> Response:
    return _directory_page(request, queries.tags(request), tag_json)


def _directory_page(request: Request, rows, to_json) -> Response:
    """Creators and tags: page-based, ordered by an annotation (so a cursor is an offset).
    Ranking them counts every published model of each (238 ms for tags, 145 ms for creators
    at 100,000 models), and the answer is the same for every caller, so a page is kept
    HUB_LIST_CACHE_SECONDS under its full address, as list totals are."""

    def answer() -> dict:
        found, metadata = paginate(request, rows, None, Limits(20, 200), pages_by_default=True)
        return {"items": [to_json(request, row) for row in found], "metadata": metadata}

    address = request.build_absolute_uri().encode()
    return Response(kept(f"api-directory:{hashlib.sha256(address).hexdigest()[:32]}", answer))
