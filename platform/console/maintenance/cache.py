"""The per-city cached copy of the approved windows: the banner and the 503 check read it on every city request.

One key per city (registered with base.prefetch, so a page reads it in its one `get_many`); a decision or a
cancellation deletes it in the city's schema, so an approved window shows at once and a rejected one goes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.http import HttpRequest
from django_tenants.utils import schema_context

from base.prefetch import prefetched
from tenants.db import current_schema

if TYPE_CHECKING:
    from console.maintenance.selectors import ApprovedWindow

CACHE_SECONDS = 60
_REQUEST_ATTR = "_maintenance_windows"


def city_key(municipality_id: int) -> str:
    # The default cache prefixes keys with the schema; the id keeps cities apart anyway.
    return f"console:maintenance:windows:v1:{municipality_id}"


def _municipality_id(request: HttpRequest) -> int | None:
    tenant = getattr(request, "tenant", None)
    if tenant is None or getattr(tenant, "is_public", False) or current_schema() == "public":
        return None
    return int(tenant.pk)


def request_key(request: HttpRequest) -> str | None:
    """The key of this request's windows (None on the vendor's host: the console shows no city's window)."""
    municipality_id = _municipality_id(request)
    return None if municipality_id is None else city_key(municipality_id)


def city_windows(request: HttpRequest, now: datetime) -> list[ApprovedWindow]:
    """The windows of the request's city from the prefetched read or the cache, else one query (then cached)."""
    from console.maintenance.selectors import windows_for_city_pages

    read = getattr(request, _REQUEST_ATTR, None)
    if read is not None:  # the maintenance check read them already for this request
        return list(read)
    municipality_id = _municipality_id(request)
    if municipality_id is None:
        return []
    key = city_key(municipality_id)
    found, windows = prefetched(request, key)
    if not found:
        windows = cache.get(key)
    if windows is None:
        windows = windows_for_city_pages(municipality_id, now, timedelta(seconds=CACHE_SECONDS))
        cache.set(key, windows, CACHE_SECONDS)
    setattr(request, _REQUEST_ATTR, windows)
    return list(windows)


def forget(schema_name: str, municipality_id: int) -> None:
    """Drop a city's cached windows, and the resident context whose stamp the city's cached pages carry (a cached
    top page holds the banner), in the city's schema (the cache prefixes keys with it): now, and again once the
    caller's transaction commits, so that no reader in between keeps the old answer."""
    from django.db import transaction

    def drop() -> None:
        from apps.booking.resident.page_cache import CONTEXT_KEY

        with schema_context(schema_name):
            cache.delete_many([city_key(municipality_id), CONTEXT_KEY])

    drop()
    transaction.on_commit(drop)
