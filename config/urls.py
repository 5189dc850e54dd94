from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from models_hub import views as hub_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api_schema"), name="api_docs"),
    # Django's set_language (what django.conf.urls.i18n routes), without a CSRF token: the
    # switcher is in every page's footer, and a token there would set a cookie on every
    # anonymous page, which shared caches then do not keep (the guidelines are public for 5
    # minutes). A forged post can only change the visitor's language; `next` stays on this site.
    path("i18n/setlang/", csrf_exempt(set_language), name="set_language"),
    path("", include("community.urls")),
    path("", include("moderation.urls")),
    path("", include("models_hub.urls")),
]

if not settings.S3_BUCKET:
    media_prefix = settings.MEDIA_URL.lstrip("/")
    urlpatterns.append(re_path(rf"^{media_prefix}(?P<path>.+)$", hub_views.media, name="media"))

handler404 = "config.api.not_found"
handler500 = "config.api.server_error"
