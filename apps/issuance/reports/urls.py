from django.urls import URLPattern, URLResolver, path

from apps.issuance.reports import views

app_name = "issuance_reports"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.report_page, name="report"),
    path("export/", views.report_export, name="report_export"),
    path("pdf/", views.report_pdf_view, name="report_pdf"),
    path("monthly/", views.monthly, name="monthly"),
    path("monthly/export/", views.monthly_export, name="monthly_export"),
    path("monthly/pdf/", views.monthly_pdf, name="monthly_pdf"),
    path("lists/", views.lists_index, name="lists"),
    path("lists/unclaimed/", views.unclaimed, name="unclaimed"),
    path("lists/unclaimed/export/", views.unclaimed_export, name="unclaimed_export"),
    path("lists/unclaimed/remind/", views.unclaimed_remind, name="unclaimed_bulk"),
    path("lists/retention/", views.retention, name="retention"),
    path("lists/retention/export/", views.retention_export, name="retention_export"),
    path("lists/retention/expire/", views.retention_expire, name="retention_bulk"),
    path("lists/returned/", views.returned, name="returned"),
    path("lists/returned/export/", views.returned_export, name="returned_export"),
    path("lists/no-shows/", views.no_shows, name="no-shows"),
    path("lists/no-shows/export/", views.no_shows_export, name="no-shows_export"),
    path("lists/today/", views.today, name="today"),
    path("lists/today/export/", views.today_export, name="today_export"),
]
