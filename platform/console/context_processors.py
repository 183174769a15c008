"""The vendor's maintenance banner on every page: one small public query per minute per city (cached)."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone

from base.prefetch import prefetched
from tenants.db import current_schema

CACHE_SECONDS = 60


def maintenance_cache_key(municipality_id: int | None) -> str:
    # The default cache prefixes keys with the schema; the id keeps the vendor's and each city's lists apart anyway.
    # v2: the cached NoticeView gained `starts_at`; a copy pickled before that is not read back.
    return f"console:maintenance:v2:{municipality_id or 'public'}"


def _municipality_id(request: HttpRequest) -> int | None:
    tenant = getattr(request, "tenant", None)
    return tenant.pk if tenant is not None and current_schema() != "public" else None


def maintenance_request_key(request: HttpRequest) -> str:
    """The key of this request's notices (registered with base.prefetch: every page reads it)."""
    return maintenance_cache_key(_municipality_id(request))


def maintenance(request: HttpRequest) -> dict[str, Any]:
    from console.selectors import maintenance_notices_for

    key = maintenance_request_key(request)
    found, notices = prefetched(request, key)
    if not found:
        notices = cache.get(key)
    if notices is None:
        notices = maintenance_notices_for(_municipality_id(request), timezone.now())
        cache.set(key, notices, CACHE_SECONDS)
    now = timezone.now()
    return {
        "maintenance_notices": [
            {
                # The visitor's language with the Japanese fallback, and the body cleaned again (base.notices).
                "title": n.title_for(),
                "body": n.body_for(),
                "window_start": n.window_start,
                "window_end": n.window_end,
                "in_progress": n.in_progress_at(now),
            }
            for n in notices
            if n.is_shown_at(now)
        ]
    }
