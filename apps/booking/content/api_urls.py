"""This feature's REST API routes under /api/v1/ (platform/madoguchi/urls_api.py includes them)."""

from __future__ import annotations

from django.urls import path

from apps.booking.content.api import AnnouncementList

urlpatterns = [
    path("announcements/", AnnouncementList.as_view(), name="api_announcements"),
]
