"""The REST API on a city's host, under /api/v1/ (docs/api.md): each feature's `api.py`, the OpenAPI schema with
Swagger UI and Redoc (madoguchi.api_docs: open within the city's networks without a key), and a problem+json 404
for any other /api/ path."""

from __future__ import annotations

from typing import Any

from django.urls import include, path
from rest_framework import exceptions

from apps.security.api_auth import ApiView
from madoguchi.api_docs import SCHEMA_URL_NAME, SchemaView, SwaggerView, redoc_view


class NotFound(ApiView):
    """Any other path under /api/: 404 problem for a key (401 without one: no probing of paths without a key)."""

    def http_method_not_allowed(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        raise exceptions.NotFound()


urlpatterns = [
    path("v1/schema/", SchemaView.as_view(), name=SCHEMA_URL_NAME),
    path("v1/docs/", SwaggerView.as_view(), name="api_docs"),
    path("v1/redoc/", redoc_view, name="api_redoc"),
    *(
        path("v1/", include(f"apps.{feature}.api_urls"))
        for feature in (
            "booking.calendar",
            "booking.content",
            "booking.reservations",
            "issuance.cards",
            "issuance.imports",
            "issuance.reports",
        )
    ),
    path("<path:rest>", NotFound.as_view(), name="api_not_found"),
]
