from django.conf import settings


def site(request):  # noqa: ANN001, ANN201
    return {"SITE_NAME": settings.SITE_NAME}
