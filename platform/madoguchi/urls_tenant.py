"""A city's host (its own schema): resident pages and staff pages."""

from django.urls import include, path

from madoguchi import views

urlpatterns = [
    path("", views.city_home, name="home"),
    path("", include("madoguchi.urls_common")),
]
