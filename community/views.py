from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from community.api_keys import OFFERED_SCOPES, KeyRefused, api_key_create, api_key_revoke
from community.forms import SignupForm
from community.models import ApiKey, Notification
from models_hub.params import parse_count, parse_id


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("models_hub:browse")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("models_hub:browse")
    return render(request, "registration/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request: HttpRequest) -> HttpResponse:
    """What the site told this person, newest first; POST marks them all read."""
    mine = Notification.objects.filter(user=request.user)
    if request.method == "POST":
        mine.filter(read_at__isnull=True).update(read_at=timezone.now())
        return redirect("notifications")
    return render(request, "community/notifications.html", {"notifications": mine[:100]})


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    """Make, list and revoke API keys. A new key is shown on this response only."""
    new_key = error = ""
    if request.method == "POST" and "revoke" in request.POST:
        if revoke_id := parse_id(request.POST.get("revoke")):
            api_key_revoke(user=request.user, key_id=revoke_id)
        return redirect("api_keys")
    if request.method == "POST":
        try:
            _, new_key = api_key_create(
                user=request.user,
                name=request.POST.get("name", ""),
                scopes=request.POST.getlist("scopes"),
                expires_in_days=parse_count(request.POST.get("expires_in_days")),
            )
        except KeyRefused as exc:
            error = str(exc)
    response = render(
        request,
        "community/api_keys.html",
        {
            "keys": ApiKey.objects.filter(user=request.user),
            "scopes": [(scope.value, scope.label) for scope in OFFERED_SCOPES],
            "new_key": new_key,
            "error": error,
        },
        status=400 if error else 200,
    )
    response["Cache-Control"] = "no-store"  # the page may hold a key
    return response
