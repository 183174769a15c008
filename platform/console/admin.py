from django.contrib import admin

from console.models import MaintenanceNotice


@admin.register(MaintenanceNotice)
class MaintenanceNoticeAdmin(admin.ModelAdmin):
    list_display = ("title_ja", "starts_at", "ends_at", "window_start", "window_end")
    list_filter = ("starts_at",)
    search_fields = ("title_ja", "title_en")
    filter_horizontal = ("municipalities",)
    date_hierarchy = "starts_at"
