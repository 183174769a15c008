"""This feature's REST API routes under /api/v1/ (platform/madoguchi/urls_api.py includes them)."""

from __future__ import annotations

from django.urls import URLPattern, path

from apps.issuance.imports import api

urlpatterns: list[URLPattern] = [
    path("card-imports/", api.ImportUpload.as_view(), name="api_card_imports"),
    path("card-imports/<int:batch_id>/", api.ImportDetail.as_view(), name="api_card_import"),
    path("card-imports/<int:batch_id>/apply/", api.ImportApply.as_view(), name="api_card_import_apply"),
    path("card-imports/<int:batch_id>/discard/", api.ImportDiscard.as_view(), name="api_card_import_discard"),
]
