"""The city's pages at /staff/vendor/availability/ and /staff/vendor/incidents/ (namespace "vendor_availability")."""

from django.urls import path

from console.availability import city_views

app_name = "vendor_availability"

urlpatterns = [
    path("availability/", city_views.report, name="report"),
    path("availability/report.csv", city_views.report_csv, name="report_csv"),
    path("availability/report.pdf", city_views.report_pdf, name="report_pdf"),
    path("incidents/", city_views.incident_list, name="incidents"),
    path("incidents/<int:incident_id>/", city_views.incident_detail, name="incident"),
]
