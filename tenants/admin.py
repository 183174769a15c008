from django.contrib import admin

from tenants.models import Domain, Municipality


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Municipality)
class MunicipalityAdmin(admin.ModelAdmin):
    list_display = ("slug", "lg_code", "name_ja", "prefecture", "status", "created_at")
    list_filter = ("status", "prefecture")
    search_fields = ("slug", "name_ja", "name_en", "lg_code")
    # Creating a city needs its schema: use manage.py create_municipality, not this form.
    readonly_fields = ("schema_name", "slug", "created_at")
    inlines = [DomainInline]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
