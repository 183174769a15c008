"""This feature's REST API routes under /api/v1/ (platform/madoguchi/urls_api.py includes them)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
