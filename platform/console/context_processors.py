"""The vendor's maintenance banner on every page: one small public query per minute per city (cached)."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.safestring import mark_safe

from frontend.sanitize import sanitize_rich_text
from tenants.db import current_schema

CACHE_SECONDS = 60


def maintenance_cache_key(municipality_id: int | None) -> str:
    # The default cache prefixes keys with the schema; the id keeps the vendor's and each city's lists apart anyway.
    return f"console:maintenance:{municipality_id or 'public'}"


def maintenance(request: HttpRequest) -> dict[str, Any]:
    from console.selectors import maintenance_notices_for

    tenant = getattr(request, "tenant", None)
    municipality_id = tenant.pk if tenant is not None and current_schema() != "public" else None
    key = maintenance_cache_key(municipality_id)
    notices = cache.get(key)
    if notices is None:
        notices = maintenance_notices_for(municipality_id, timezone.now())
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
