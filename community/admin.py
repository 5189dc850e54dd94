from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from community.models import User


@admin.register(User)
class CommunityUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Community", {"fields": ("bio", "browsing_level")}))
