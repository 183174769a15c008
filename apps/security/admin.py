from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from apps.security.models import User


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    list_display = ("username", "email", "display_name", "is_staff", "is_active", "last_login")
    fieldsets = (*UserAdmin.fieldsets, ("Madoguchi", {"fields": ("display_name",)}))  # type: ignore[misc]
