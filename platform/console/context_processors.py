"""The maintenance banner on a city's pages: the windows its supervisor approved, from MAINTENANCE_NOTICE_DAYS
before each until its end (console.maintenance; one cached read per city, prefetched with the page's keys)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from console.maintenance.cache import CACHE_SECONDS, city_key, request_key

__all__ = ["CACHE_SECONDS", "maintenance", "maintenance_cache_key", "maintenance_request_key"]

maintenance_cache_key = city_key
maintenance_request_key = request_key  # registered with base.prefetch by console.apps (the same function)


def maintenance(request: HttpRequest) -> dict[str, Any]:
    from console.maintenance.cache import city_windows

    now = timezone.now()
    return {
        "maintenance_notices": [
            {
                # The visitor's language with the Japanese fallback, and the body cleaned again (base.notices).
                "title": w.title_for(),
                "body": w.body_for(),
                "window_start": w.start,
                "window_end": w.end,
                "in_progress": w.in_progress_at(now),
            }
            for w in city_windows(request, now)
            if w.is_shown_at(now)
        ]
    }
