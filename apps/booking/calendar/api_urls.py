"""This feature's REST API routes under /api/v1/ (platform/madoguchi/urls_api.py includes them)."""

from __future__ import annotations

from django.urls import path

from apps.booking.calendar.api import Availability, CounterGroupList, PurposeList

urlpatterns = [
    path("purposes/", PurposeList.as_view(), name="api_purposes"),
    path("counter-groups/", CounterGroupList.as_view(), name="api_counter_groups"),
    path("availability/", Availability.as_view(), name="api_availability"),
]
