"""The city's maintenance approvals at /staff/vendor/maintenance/ (namespace "vendor_maintenance")."""

from django.urls import path

from console.maintenance import city_views

app_name = "vendor_maintenance"

urlpatterns = [
    path("", city_views.approval_list, name="list"),
    path("<int:approval_id>/", city_views.approval_decide, name="decide"),
]
