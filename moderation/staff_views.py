"""The moderators' pages under /moderation/: the queue, an item, its actions. Anyone who is
not a moderator gets a 404 from every one of them."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from models_hub.models import GalleryImage
from moderation import queue
from moderation.api import ActSerializer
from moderation.models import ModerationAction, ProtectedPhoto, QueueItem, Rule, TakedownPhoto
from moderation.permissions import moderator_required
from moderation.queue_selectors import (
    QUEUE_PAGE_SIZE,
    QueueFilters,
    item_page,
    open_items,
    queue_health,
    queue_trends,
)


@require_GET
@moderator_required
def queue_list(request: HttpRequest) -> HttpResponse:
    filters = QueueFilters.from_query(request.GET)
    page = Paginator(open_items(filters, request.user), QUEUE_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "moderation/queue.html",
        {
            "page": page,
            "filters": filters,
            "health": queue_health(),
            "trends": queue_trends(),
            "sources": QueueItem.Source.choices,
            "priorities": QueueItem.Priority.choices,
            "rules": Rule.objects.all(),
        },
    )


@require_GET
@moderator_required
def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    page = item_page(pk)
    if page is None:
        raise Http404("No such item.")
    item = page.item
    return render(
        request,
        "moderation/item.html",
        {
            "p": page,
            "item": item,
            "mine": queue.claim_is_live(item, request.user),
            "not_yours": queue.not_yours_to_decide(item, request.user),
            "actions": [(k, ModerationAction.Kind(k).label) for k in queue.allowed_actions(item)],
            "ratings": [(level.value, level.label) for level in queue.RATINGS],
            "suspension_days": queue.SUSPENSION_DAYS,
        },
    )


@require_POST
@moderator_required
def item_claim(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        queue.item_claim(item_id=pk, moderator=request.user)
    except queue.Refused as exc:
        messages.error(request, str(exc))
    return redirect("moderation:item", pk=pk)


@require_POST
@moderator_required
def item_release(request: HttpRequest, pk: int) -> HttpResponse:
    queue.item_release(item_id=pk, moderator=request.user)
    return redirect("moderation:queue")


@require_POST
@moderator_required
def item_act(request: HttpRequest, pk: int) -> HttpResponse:
    given = ActSerializer(data=request.POST)
    try:
        if not given.is_valid():
            raise queue.Refused(" ".join(str(errors[0]) for errors in given.errors.values()))
        data = given.validated_data
        queue.item_act(
            item_id=pk, moderator=request.user, kind=data["kind"], rule=data["rule"],
            reason=data["reason"], level=data.get("level"), days=data.get("days"),
            image_ids=data.get("image_ids", []),
        )  # fmt: skip
    except queue.Refused as exc:
        messages.error(request, str(exc))
        return redirect("moderation:item", pk=pk)
    if data["kind"] in queue.SIDE_ACTIONS:
        messages.success(request, _("Done. The item stays open for its decision."))
        return redirect("moderation:item", pk=pk)
    messages.success(request, _("Done. The owner has been told."))
    return redirect("moderation:queue")


@require_GET
@moderator_required
def evidence_file(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """A gallery image or a reference photo, for moderators only, whatever its visibility."""
    sources = {"image": GalleryImage, "photo": ProtectedPhoto, "takedown": TakedownPhoto}
    if kind not in sources:
        raise Http404("No such file.")
    row = sources[kind].objects.filter(pk=pk).first()
    stored = row.image if row else None
    if not stored:
        raise Http404("No such file.")
    try:
        response = FileResponse(stored.open("rb"))
    except OSError:
        raise Http404("That file is not available.") from None
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
