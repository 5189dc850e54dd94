"""What every JSON API of the site shares: errors as {"error": "..."}, as Civitai's API and
its clients expect, with the status DRF chose (401 for a bad key, never an HTML login page)."""

from __future__ import annotations

from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"error": str(response.data["detail"])}
    return response
