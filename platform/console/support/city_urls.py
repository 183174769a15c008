"""The city's host: the supervisor's page under /staff/vendor/support/ and the entry under /support/enter/."""

from django.urls import path

from console.support import city_views

app_name = "support_city"

urlpatterns = [
    path("staff/vendor/support/", city_views.grants, name="grants"),
    path("staff/vendor/support/<int:grant_id>/end/", city_views.grant_end, name="end"),
    path("support/enter/<str:token>/", city_views.enter, name="enter"),
]
