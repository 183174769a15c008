"""The console's availability report and incidents at /console/availability/ (namespace "console:availability")."""

from django.urls import path

from console.availability import views

app_name = "availability"

urlpatterns = [
    path("", views.report, name="report"),
    path("report.csv", views.report_csv, name="report_csv"),
    path("report.pdf", views.report_pdf, name="report_pdf"),
    path("incidents/", views.incident_list, name="incidents"),
    path("incidents/new/", views.incident_new, name="incident_new"),
    path("incidents/<int:incident_id>/", views.incident_detail, name="incident"),
    path("incidents/<int:incident_id>/edit/", views.incident_edit, name="incident_edit"),
    path("incidents/<int:incident_id>/timeline/", views.incident_entry, name="incident_entry"),
]
