from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from models_hub.models import (
    BaseModel,
    GalleryImage,
    License,
    Model,
    ModelFile,
    ModelVersion,
    Tag,
    VersionParent,
)
from models_hub.services import version_publish


@admin.register(License)
class LicenseAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "slug",
        "commercial_use",
        "credit_required",
        "derivatives_allowed",
        "relicensing_allowed",
        "has_use_restrictions",
    )


@admin.register(BaseModel)
class BaseModelAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "license", "position")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ("name",)


class VersionInline(admin.TabularInline):
    model = ModelVersion
    fields = ("name", "base_model", "status", "nsfw_level", "download_count")
    extra = 0
    show_change_link = True


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = ("name", "type", "owner", "status", "nsfw_level", "download_count")
    list_filter = ("status", "type")
    search_fields = ("name", "owner__username")
    raw_id_fields = ("owner", "cover_image")
    inlines = [VersionInline]


class FileInline(admin.TabularInline):
    model = ModelFile
    fields = ("name", "format", "size_bytes", "sha256", "hash_status", "is_primary")
    readonly_fields = fields
    extra = 0


class ParentInline(admin.TabularInline):
    model = VersionParent
    fk_name = "version"
    raw_id_fields = ("parent_version",)
    extra = 0


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "base_model", "status", "nsfw_level", "hold_reason", "created_at")
    list_filter = ("status", "base_model")
    raw_id_fields = ("model",)
    inlines = [FileInline, ParentInline]
    actions = ["publish_versions"]

    @admin.action(description="Publish the selected versions (files that could not be checked: "
                  "only after looking at them)")  # fmt: skip
    def publish_versions(self, request, queryset) -> None:
        published = 0
        for version in queryset.select_related("model"):
            try:
                version_publish(version=version, allow_unchecked=True)
            except ValidationError as exc:
                self.message_user(request, f"{version}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                published += 1
        self.message_user(request, f"Published {published} version(s).")


@admin.register(GalleryImage)
class GalleryImageAdmin(admin.ModelAdmin):
    list_display = ("id", "version", "width", "height", "nsfw_level", "process_status")
    raw_id_fields = ("version",)
