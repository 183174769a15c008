"""The vendor console at /console/ (namespace "console"); each feature adds ONE include line here.

Django admin is not here: it stays at /console/admin/ under its own namespace "admin" (madoguchi.urls_public)."""

from django.urls import include, path

from console import views

app_name = "console"

urlpatterns = [
    path("", views.home, name="home"),
    path("vendor-users/", views.vendor_users, name="vendor_users"),
    path("cities/", include("console.cities.urls")),
    path("maintenance/", include("console.maintenance.urls")),
    path("support/", include("console.support.urls")),
    path("availability/", include("console.availability.urls")),
]
