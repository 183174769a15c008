from django.urls import path

from apps.booking.calendar import views as views_calendar
from apps.booking.content import views as views_content
from apps.booking.staff import views as views_staff

app_name = "booking_staff"

urlpatterns = [
    path("day/", views_staff.day_view, name="day"),
    path("day/print/", views_staff.day_print, name="day_print"),
    path("day/book/", views_staff.day_book, name="day_book"),
    path("slots/<int:slot_id>/block/", views_staff.slot_block, name="slot_block"),
    path("slots/<int:slot_id>/seats/", views_staff.slot_seats, name="slot_seats"),
    path("reservations/<int:reservation_id>/mark/", views_staff.reservation_mark, name="reservation_mark"),
    path(
        "reservations/<int:reservation_id>/cancel/", views_staff.reservation_cancel, name="reservation_cancel"
    ),
    path("reservations/<int:reservation_id>/move/", views_staff.reservation_move, name="reservation_move"),
    path("affected/", views_staff.affected, name="affected"),
    path("settings/", views_calendar.booking_settings, name="settings"),
    path("counters/", views_calendar.counters, name="counters"),
    path("counters/add/", views_calendar.counter_edit, name="counter_add"),
    path("counters/<int:group_id>/", views_calendar.counter_edit, name="counter_edit"),
    path("counters/<int:group_id>/hours/", views_calendar.hours, name="hours"),
    path("hours/<int:hours_id>/remove/", views_calendar.hours_remove, name="hours_remove"),
    path("purposes/", views_calendar.purposes, name="purposes"),
    path("purposes/add/", views_calendar.purpose_edit, name="purpose_add"),
    path("purposes/<int:purpose_id>/", views_calendar.purpose_edit, name="purpose_edit"),
    path("calendar/", views_calendar.calendar_days, name="calendar"),
    path("calendar/<int:day_id>/remove/", views_calendar.calendar_day_remove, name="calendar_day_remove"),
    path("announcements/", views_content.announcements, name="announcements"),
    path("announcements/new/", views_content.announcement_edit, name="announcement_add"),
    path(
        "announcements/<int:announcement_id>/edit/", views_content.announcement_edit, name="announcement_edit"
    ),
    path(
        "announcements/<int:announcement_id>/delete/",
        views_content.announcement_delete,
        name="announcement_delete",
    ),
    path("mail-texts/", views_content.email_text_list, name="email_texts"),
    path("mail-texts/<str:kind>/<str:language>/", views_content.email_text_edit, name="email_text_edit"),
    path(
        "mail-texts/<str:kind>/<str:language>/reset/", views_content.email_text_reset, name="email_text_reset"
    ),
]
