"""Resident booking pages (resident/ before booking, manage/ after) under /book/ (never /accounts/, /staff/ or
/api/: those are refused outside city networks)."""

from django.urls import path

from apps.booking.manage import views as manage_views
from apps.booking.resident import views

app_name = "booking"

urlpatterns = [
    path("", views.purpose_list, name="purposes"),
    path("find/", manage_views.find, name="find"),
    path("hold/<uuid:token>/", views.hold_form, name="hold"),
    path("done/<str:code>/", manage_views.done, name="done"),
    path("start/<str:token>/", views.email_start, name="email_start"),
    path("manage/<str:token>/", manage_views.manage, name="manage"),
    path("manage/<str:token>/change/", manage_views.manage_change, name="manage_change"),
    path("<slug:purpose_code>/", views.month_calendar, name="calendar"),
    path("<slug:purpose_code>/<str:day>/", views.day_view, name="day"),
]
