"""The REST API on a city's host, under /api/v1/ (docs/api.md): each feature's `api.py`, the OpenAPI schema, and a
problem+json 404 for any other /api/ path."""

from __future__ import annotations

from typing import Any

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework import exceptions

from apps.security.api_auth import ApiKeyAuthentication, ApiKeyRateThrottle, ApiView, HasScopes


class SchemaView(SpectacularAPIView):
    """OpenAPI 3.1, Japanese by default, `?lang=en` in English. Any valid key of the city reads it (no scope)."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasScopes]
    throttle_classes = [ApiKeyRateThrottle]


class NotFound(ApiView):
    """Any other path under /api/: 404 problem for a key (401 without one: no probing of paths without a key)."""

    def http_method_not_allowed(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        raise exceptions.NotFound()


urlpatterns = [
    path("v1/schema/", SchemaView.as_view(), name="api_schema"),
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
