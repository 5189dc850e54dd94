"""What every JSON API of the site shares: errors as {"error": "..."}, as Civitai's API and
its clients expect, with the status DRF chose (401 for a bad key, never an HTML login page).
The JSON itself is written by config/renderers.py."""

from __future__ import annotations

from django.http import JsonResponse
from django.views import defaults
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"error": str(response.data["detail"])}
    return response


def not_found(request, exception=None):
    """handler404: under /api/ a JSON error (a client asked a path no route matches, such as
    /api/v1/models/abc); elsewhere the site's page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": f"No API endpoint at {request.path[:200]}"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """handler500: under /api/ a JSON error, as clients parse; elsewhere the site's page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "Something went wrong on the server."}, status=500)
    return defaults.server_error(request)
