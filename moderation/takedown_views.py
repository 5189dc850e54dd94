"""The takedown request form, for people without an account. Whatever was sent, the answer
never says whether the person named is in the protected registry."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from config.clients import client_address
from moderation import takedowns
from moderation.models import TakedownRequest


@require_http_methods(["GET", "POST"])
def takedown(request: HttpRequest) -> HttpResponse:
    context = {"kinds": TakedownRequest.Kind.choices, "sent": request.POST}
    if request.method == "POST":
        data = request.POST
        try:
            sent = takedowns.takedown_submit(
                kind=data.get("kind", ""),
                name=data.get("name", ""),
                aliases=data.get("aliases", ""),
                contact_email=data.get("contact_email", ""),
                statement=data.get("statement", ""),
                consent=data.get("consent") == "on",
                work=data.get("work", ""),
                proof=data.get("proof", ""),
                content_url=data.get("content_url", ""),
                photos=request.FILES.getlist("photos"),
                sender=client_address(request),
            )
        except takedowns.TooManyRequests:
            response = render(request, "moderation/takedown_busy.html", status=429)
            response["Retry-After"] = "86400"
            return response
        except takedowns.RequestRejected as exc:
            context["error"] = str(exc)
            return render(request, "moderation/takedown.html", context, status=400)
        return render(request, "moderation/takedown_received.html", {"sent": sent})
    return render(request, "moderation/takedown.html", context)
