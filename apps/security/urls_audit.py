"""The audit log pages; included at staff/audit/ by both the city and the vendor URLconfs."""

from django.urls import path

from apps.security import views_audit

app_name = "audit"

urlpatterns = [
    path("", views_audit.audit_list, name="list"),
    path("export.csv", views_audit.audit_export_csv, name="export"),
]
