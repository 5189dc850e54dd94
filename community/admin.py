from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from community import services
from community.models import Collection, Comment, Review, User


@admin.register(User)
class CommunityUserAdmin(UserAdmin):
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Community", {"fields": ("bio", "links", "avatar", "browsing_level", "above_level")}),
    )


# Hiding goes through the services, so the counters on the model and image follow.


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ("id", "author", "model", "image", "created_at", "hidden", "deleted")
    list_filter = ("hidden", "deleted")
    search_fields = ("body", "author__username")
    raw_id_fields = ("author", "model", "image", "parent")
    readonly_fields = ("hidden", "deleted")
    actions = ["hide", "unhide"]

    @admin.action(description="Hide the selected comments")
    def hide(self, request, queryset):
        for pk in queryset.values_list("pk", flat=True):
            services.comment_hide(comment_id=pk, hidden=True)

    @admin.action(description="Show the selected comments again")
    def unhide(self, request, queryset):
        for pk in queryset.values_list("pk", flat=True):
            services.comment_hide(comment_id=pk, hidden=False)


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("id", "author", "version", "recommended", "created_at", "hidden")
    list_filter = ("hidden", "recommended")
    search_fields = ("text", "author__username")
    raw_id_fields = ("author", "version")
    readonly_fields = ("hidden", "recommended")
    actions = ["hide", "unhide"]

    @admin.action(description="Hide the selected reviews")
    def hide(self, request, queryset):
        for pk in queryset.values_list("pk", flat=True):
            services.review_hide(review_id=pk, hidden=True)

    @admin.action(description="Show the selected reviews again")
    def unhide(self, request, queryset):
        for pk in queryset.values_list("pk", flat=True):
            services.review_hide(review_id=pk, hidden=False)


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "owner", "is_public", "updated_at")
    search_fields = ("name", "owner__username")
    raw_id_fields = ("owner",)
