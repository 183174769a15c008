"""The console's maintenance pages at /console/maintenance/ (namespace "console:maintenance")."""

from django.urls import path

from console.maintenance import views

app_name = "maintenance"

urlpatterns = [
    path("", views.window_list, name="list"),
    path("new/", views.window_propose, name="propose"),
    path("<int:proposal_id>/cancel/", views.window_cancel, name="cancel"),
]
