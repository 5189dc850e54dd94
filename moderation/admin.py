from django import forms
from django.contrib import admin, messages

from moderation import services
from moderation.models import (
    CheckRun,
    ModerationAction,
    ProtectedPerson,
    ProtectedPhoto,
    QueueItem,
    Rule,
)


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ("title", "title_ja", "code", "position")


@admin.register(CheckRun)
class CheckRunAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "version", "image", "state", "attempts", "duration_ms")
    list_filter = ("kind", "state")
    readonly_fields = [f.name for f in CheckRun._meta.fields]

    def has_add_permission(self, request):
        return False


class ProtectedPersonForm(forms.ModelForm):
    reference_photo = forms.ImageField(
        required=False,
        help_text="A photo showing exactly one face: the person's. Add more from the list.",
    )

    class Meta:
        model = ProtectedPerson
        fields = ["name", "aliases", "note", "is_active"]


class ProtectedPhotoInline(admin.TabularInline):
    model = ProtectedPhoto
    extra = 0
    fields = ("image", "has_face", "created_at")
    readonly_fields = ("image", "has_face", "created_at")
    can_delete = True

    def has_add_permission(self, request, obj=None):
        return False  # photos are added through the form field, which computes the embedding

    @admin.display(boolean=True)
    def has_face(self, photo):
        return photo.embedding is not None


@admin.register(ProtectedPerson)
class ProtectedPersonAdmin(admin.ModelAdmin):
    form = ProtectedPersonForm
    list_display = ("name", "is_active", "created_at")
    search_fields = ("name",)
    inlines = [ProtectedPhotoInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        upload = form.cleaned_data.get("reference_photo")
        # One rescan for the names (they may have changed) and the photo, if it is taken.
        services.registry_changed(person=obj)
        if upload:
            upload.seek(0)
            try:
                services.protected_photo_add(person=obj, stream=upload, rescan=False)
            except services.PhotoRejected as exc:
                messages.error(request, f"The photo was not added: {exc}")
            else:
                messages.success(
                    request, "Photo added; published images are being compared with it."
                )


@admin.register(QueueItem)
class QueueItemAdmin(admin.ModelAdmin):
    list_display = ("id", "source", "rule", "priority", "state", "version", "created_at")
    list_filter = ("source", "state", "rule")


@admin.register(ModerationAction)
class ModerationActionAdmin(admin.ModelAdmin):
    """The log, to read: nobody changes or deletes it here either."""

    list_display = ["created_at", "kind", "rule", "moderator", "version", "owner"]
    list_filter = ["kind", "rule"]
    list_select_related = ["rule", "moderator", "version__model", "owner"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
