"""The vendor's maintenance banner on every page: one small public query per minute per city (cached)."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.safestring import mark_safe

from base.prefetch import prefetched
from base.sanitize import sanitize_rich_text
from tenants.db import current_schema

CACHE_SECONDS = 60


def maintenance_cache_key(municipality_id: int | None) -> str:
    # The default cache prefixes keys with the schema; the id keeps the vendor's and each city's lists apart anyway.
    return f"console:maintenance:{municipality_id or 'public'}"


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
    english = (translation.get_language() or "ja").startswith("en")
    now = timezone.now()
    return {
        "maintenance_notices": [
            {
                "title": (n.title_en or n.title_ja) if english else n.title_ja,
                # Stored sanitised, cleaned again here: only nh3's output is marked safe.
                "body": mark_safe(sanitize_rich_text((n.body_en or n.body_ja) if english else n.body_ja)),  # noqa: S308
                "window_start": n.window_start,
                "window_end": n.window_end,
                # Recomputed per request: a cached list must not say "planned" once the window has begun.
                "in_progress": n.window_start is not None
                and n.window_start <= now
                and (n.window_end is None or now < n.window_end),
            }
            for n in notices
            if n.ends_at is None or now < n.ends_at
        ]
    }
