"""What members do about moderation: report something, appeal a decision about their own
content. (Takedown requests, which need no account, are in takedown_views.py.)"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from models_hub.models import GalleryImage, ModelVersion
from models_hub.params import parse_id
from moderation import queue, reports, selectors
from moderation.models import Appeal, ModerationAction, Rule
from moderation.views import guidelines_language


def _report_target(request: HttpRequest) -> dict:
    """What the report is about, from ?version=, ?image= or ?user= (404 if unseen)."""
    query = request.GET if request.method == "GET" else request.POST
    if image_id := parse_id(query.get("image")):
        image = get_object_or_404(
            GalleryImage.objects.visible_to(request.user).select_related("version__model"),
            pk=image_id,
        )
        return {
            "image": image,
            "label": _("an image of %(model)s") % {"model": image.version.model.name},
        }
    if version_id := parse_id(query.get("version")):
        version = get_object_or_404(
            ModelVersion.objects.visible_to(request.user).select_related("model"), pk=version_id
        )
        return {"version": version, "label": str(version)}
    if username := query.get("user", "")[:150]:
        user = get_object_or_404(get_user_model(), username=username, is_active=True)
        return {"user": user, "label": _("the member %(name)s") % {"name": user.username}}
    raise Http404("Nothing to report.")


@login_required
@require_http_methods(["GET", "POST"])
def report(request: HttpRequest) -> HttpResponse:
    target = _report_target(request)
    label = target.pop("label")
    if request.method == "POST":
        rule = Rule.objects.filter(code=request.POST.get("rule", "")).first()
        try:
            if rule is None:
                raise queue.Refused(_("Choose the rule it breaks."))
            reports.report_create(
                reporter=request.user, rule=rule, details=request.POST.get("details", ""),
                **target,
            )  # fmt: skip
        except queue.Refused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request, _("Thank you. A moderator will look at it; you will be told the outcome.")
            )
            return redirect(_back(request) or "models_hub:browse")
    # The rules to choose from as the guidelines page words them, in the reader's language.
    rules = selectors.guidelines(guidelines_language(request))
    return render(
        request,
        "moderation/report.html",
        {"label": label, "rules": rules, "query": request.GET, "back": _back(request)},
    )


def _back(request: HttpRequest) -> str:
    back = request.GET.get("back") or request.POST.get("back") or ""
    # Only an address on this site: never an open redirect.
    safe = url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return back if safe else ""


@login_required
@require_http_methods(["GET", "POST"])
def appeal(request: HttpRequest, action_id: int) -> HttpResponse:
    """The owner's one appeal of a decision about their content (404 for anyone else)."""
    action = get_object_or_404(
        ModerationAction.objects.select_related("rule", "version__model"),
        pk=action_id,
        owner=request.user,
    )
    existing = Appeal.objects.filter(action=action).first()
    if request.method == "POST":
        try:
            queue.appeal_create(
                action=action, appellant=request.user, statement=request.POST.get("statement", "")
            )
        except queue.Refused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Your appeal was sent. Another moderator will decide it."))
            return redirect("moderation:appeal", action_id=action.pk)
    return render(request, "moderation/appeal.html", {"action": action, "appeal": existing})
