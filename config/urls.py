from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from models_hub import views as hub_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("community.urls")),
    path("", include("moderation.urls")),
    path("", include("models_hub.urls")),
]

if not settings.S3_BUCKET:
    media_prefix = settings.MEDIA_URL.lstrip("/")
    urlpatterns.append(re_path(rf"^{media_prefix}(?P<path>.+)$", hub_views.media, name="media"))
