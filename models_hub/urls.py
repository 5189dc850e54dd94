from django.urls import path

from models_hub import views
from models_hub.api import uploads as upload_api
from models_hub.api import v1

app_name = "models_hub"
urlpatterns = [
    path("", views.browse, name="browse"),
    path("models/<int:pk>/", views.model_detail, name="detail_short"),
    path("models/<int:pk>/<slug:slug>/", views.model_detail, name="detail"),
    path("upload/", views.upload, name="upload"),
    path(
        "models/<int:pk>/versions/<int:version_id>/checks",
        views.version_checks_status,
        name="version_checks",
    ),
    path("models/<int:pk>/versions/new/", views.version_upload, name="version_upload"),
    path("api/download/models/<int:version_id>", views.download, name="download"),
    path("api/v1/models", v1.ModelsCollection.as_view(), name="api_models"),
    path("api/v1/models/<int:model_id>", v1.model_detail, name="api_model"),
    path(
        "api/v1/models/<int:model_id>/versions",
        v1.model_versions_create,
        name="api_model_versions",
    ),
    path(
        "api/v1/model-versions/<int:version_id>/publish",
        v1.version_publish,
        name="api_version_publish",
    ),
    path("api/v1/model-versions/<int:version_id>", v1.version_detail, name="api_version"),
    path("api/v1/model-versions/by-hash", v1.versions_by_hashes, name="api_versions_by_hash"),
    path(
        "api/v1/model-versions/by-hash/<str:file_hash>",
        v1.version_by_hash,
        name="api_version_by_hash",
    ),
    path("api/v1/images", v1.images_list, name="api_images"),
    path("api/v1/creators", v1.creators_list, name="api_creators"),
    path("api/v1/tags", v1.tags_list, name="api_tags"),
    path("api/uploads", upload_api.create, name="upload_create"),
    path("api/uploads/<uuid:upload_id>", upload_api.detail, name="upload_detail"),
    path("api/uploads/<uuid:upload_id>/complete", upload_api.complete, name="upload_complete"),
    path("api/uploads/<uuid:upload_id>/parts", upload_api.parts, name="upload_parts"),
]
