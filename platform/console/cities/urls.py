"""The console's cities at /console/cities/ (namespace "console:cities")."""

from django.urls import path

from console.cities import views

app_name = "cities"

urlpatterns = [
    path("", views.city_list, name="list"),
    path("new/", views.city_create_view, name="create"),
    path("<slug:slug>/", views.city_detail, name="detail"),
    path("<slug:slug>/status/", views.city_status_view, name="status"),
    path("<slug:slug>/domains/", views.domain_add_view, name="domain_add"),
    path("<slug:slug>/domains/<int:domain_id>/remove/", views.domain_remove_view, name="domain_remove"),
]
