"""This feature's REST API routes under /api/v1/ (platform/madoguchi/urls_api.py includes them)."""

from __future__ import annotations

from django.urls import path

from apps.booking.reservations.api import (
    ReservationCancel,
    ReservationCollection,
    ReservationDetail,
    ReservationMove,
    SlotList,
)

urlpatterns = [
    path("slots/", SlotList.as_view(), name="api_slots"),
    path("reservations/", ReservationCollection.as_view(), name="api_reservations"),
    path("reservations/<str:code>/", ReservationDetail.as_view(), name="api_reservation"),
    path("reservations/<str:code>/move/", ReservationMove.as_view(), name="api_reservation_move"),
    path("reservations/<str:code>/cancel/", ReservationCancel.as_view(), name="api_reservation_cancel"),
]
