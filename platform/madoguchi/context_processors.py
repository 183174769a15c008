from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tenants.db import current_schema


def site(request: HttpRequest) -> dict[str, Any]:
    """The current city (None on the vendor's host) for the base template's name and colours."""
    tenant = getattr(request, "tenant", None)
    is_city = tenant is not None and current_schema() != "public"
    appearance = None
    if is_city:
        from apps.booking.resident.page_cache import resident_context

        appearance = resident_context(request).appearance
    return {"city": tenant if is_city else None, "appearance": appearance}
