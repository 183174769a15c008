"""This feature's REST API routes under /api/v1/ (platform/madoguchi/urls_api.py includes them)."""

from __future__ import annotations

from django.urls import URLPattern, path

from apps.issuance.reports import api

urlpatterns: list[URLPattern] = [
    path("reports/", api.ReportView.as_view(), name="api_reports"),
    path("reports/monthly/", api.MonthlyView.as_view(), name="api_reports_monthly"),
]
