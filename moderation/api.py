"""JSON endpoints for moderators' own tools (scripts, a bulk-review client): the same queue,
the same state machine and the same refusals as the pages. Anyone else gets 404.

    GET  /api/moderation/queue?source=&rule=&priority=&older_than=&mine=1&page=
    GET  /api/moderation/items/<id>
    POST /api/moderation/items/<id>/claim | /release
    POST /api/moderation/items/<id>/act   {"kind", "rule", "reason", "level", "days", "image_ids"}

Signed in with the site's session (and its CSRF token), or with an API key that has the
"moderate" scope (`Authorization: Bearer <key>`).
"""

from __future__ import annotations

from django.core.paginator import Paginator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import NotAuthenticated, NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from community.api_auth import KeyScope
from moderation import queue
from moderation.models import ModerationAction, QueueItem, Rule
from moderation.permissions import is_moderator
from moderation.queue_selectors import QUEUE_PAGE_SIZE, QueueFilters, item_page, open_items

MODERATE_SCOPE = KeyScope.of("moderate")


class IsModerator(BasePermission):
    """Without credentials a 401 (the endpoints are in the public schema anyway, and tools
    must be told to authenticate); a member who is not a moderator gets a 404, as from the
    pages, so a member learns nothing about the queue's items."""

    def has_permission(self, request, view) -> bool:
        if not request.user.is_authenticated:
            raise NotAuthenticated("Sign in, or send an API key with the moderate scope.")
        if not is_moderator(request.user):
            raise NotFound
        return True


def moderator_endpoint(methods: list[str], summary: str, **schema):
    """A DRF view for moderators only (404 to anyone else), signed in or with a key that
    has the moderate scope; `summary` and `schema` describe it in the OpenAPI schema."""

    def wrap(view):
        view = api_view(methods)(permission_classes([IsModerator, MODERATE_SCOPE])(view))
        responses = {status: OpenApiTypes.OBJECT for status in (200, 400, 401, 403, 404, 409, 429)}
        return extend_schema(summary=summary, tags=["moderation"], responses=responses, **schema)(
            view
        )

    return wrap


def _item_json(item: QueueItem) -> dict:
    version = item.version
    return {
        "id": item.pk,
        "source": item.source,
        "rule": item.rule.code,
        "priority": item.priority,
        "state": item.state,
        "reason": item.reason,
        "reportCount": item.report_count,
        "createdAt": item.created_at.isoformat(),
        "claimedBy": item.claimed_by.username if item.claimed_by else None,
        "version": {
            "id": version.pk,
            "name": version.name,
            "status": version.status,
            "nsfwLevel": version.nsfw_level,
            "modelId": version.model_id,
            "modelName": version.model.name,
            "owner": version.model.owner.username,
        }
        if version
        else None,
        "member": item.target_user.username if item.target_user else None,
        "allowedActions": queue.allowed_actions(item),
    }


@moderator_endpoint(
    ["GET"],
    "Open queue items, by priority then age",
    parameters=[
        OpenApiParameter("source", OpenApiTypes.STR, description="check, report, appeal..."),
        OpenApiParameter("rule", OpenApiTypes.STR, description="A rule code."),
        # Read leniently, as the queue page's filters: a value that is not a number is ignored.
        OpenApiParameter("priority", OpenApiTypes.STR, description="At least this priority."),
        OpenApiParameter("older_than", OpenApiTypes.STR, description="Hours waiting."),
        OpenApiParameter("mine", OpenApiTypes.STR, description="1: claimed by me."),
        OpenApiParameter("page", OpenApiTypes.STR, description="Page number."),
    ],
)
def queue_list(request: Request) -> Response:
    filters = QueueFilters.from_query(request.query_params)
    page = Paginator(open_items(filters, request.user), QUEUE_PAGE_SIZE).get_page(
        request.query_params.get("page")
    )
    return Response(
        {
            "items": [_item_json(item) for item in page.object_list],
            "page": page.number,
            "pages": page.paginator.num_pages,
            "total": page.paginator.count,
        }
    )


@moderator_endpoint(["GET"], "One queue item with its evidence and history")
def item_detail(request: Request, pk: int) -> Response:
    page = item_page(pk)
    if page is None:
        raise NotFound("No such item.")
    return Response(
        {
            **_item_json(page.item),
            "findings": page.findings,
            "images": [{"id": i.pk, "nsfwLevel": i.nsfw_level} for i in page.images],
            "reports": [
                {
                    "reporter": r.reporter.username,
                    "rule": r.rule.code,
                    "details": r.details,
                    "imageId": r.image_id,
                    "createdAt": r.created_at.isoformat(),
                }
                for r in page.reports
            ],
            "history": [
                {
                    "kind": a.kind,
                    "rule": a.rule.code,
                    "reason": a.reason,
                    "moderator": a.moderator.username,
                    "createdAt": a.created_at.isoformat(),
                }
                for a in page.history
            ],
        }  # fmt: skip
    )


def _refused(exc: queue.Refused) -> Response:
    return Response({"error": str(exc)}, status=409)


@moderator_endpoint(["POST"], "Claim an item", request=None)
def item_claim(request: Request, pk: int) -> Response:
    try:
        queue.item_claim(item_id=pk, moderator=request.user)
    except queue.Refused as exc:
        return _refused(exc)
    return Response({"claimed": True})


@moderator_endpoint(["POST"], "Release a claim", request=None)
def item_release(request: Request, pk: int) -> Response:
    queue.item_release(item_id=pk, moderator=request.user)
    return Response({"released": True})


class ActSerializer(serializers.Serializer):
    """A moderator's decision as sent by the item page's form or by a tool: one reading of
    it for both (the service then checks what the item allows)."""

    kind = serializers.ChoiceField(
        choices=ModerationAction.Kind.choices,
        error_messages={"invalid_choice": "Choose an action.", "required": "Choose an action."},
    )
    rule = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Rule.objects.all(),
        error_messages={
            "does_not_exist": "Choose the rule this decision enforces.",
            "required": "Choose the rule this decision enforces.",
        },
    )
    reason = serializers.CharField(
        max_length=5000,
        trim_whitespace=True,
        error_messages={
            "blank": "Give a reason: the owner is shown it.",
            "required": "Give a reason: the owner is shown it.",
        },
    )
    level = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=63)
    days = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=365)
    image_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=500
    )


@moderator_endpoint(
    ["POST"], "Decide: every action names a rule and a reason", request=ActSerializer
)
def item_act(request: Request, pk: int) -> Response:
    given = ActSerializer(data=request.data)
    if not given.is_valid():
        return Response({"errors": given.errors}, status=400)
    data = given.validated_data
    try:
        action = queue.item_act(
            item_id=pk, moderator=request.user, kind=data["kind"], rule=data["rule"],
            reason=data["reason"], level=data.get("level"), days=data.get("days"),
            image_ids=data.get("image_ids", []),
        )  # fmt: skip
    except queue.Refused as exc:
        return _refused(exc)
    return Response({"action": action.pk, "kind": action.kind, "details": action.details})
