"""Reads of the vendor console's public tables, for every page (city or vendor)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django_tenants.utils import schema_context

from base.notices import BilingualText, shown_at_q, window_open
from console.models import MaintenanceNotice


@dataclass(frozen=True)
class NoticeView(BilingualText):
    """A notice ready for a template (plain values: safe to cache); `title_for`/`body_for` as on the model."""

    title_ja: str
    title_en: str
    body_ja: str
    body_en: str
    window_start: datetime | None
    window_end: datetime | None
    starts_at: datetime
    ends_at: datetime | None
    in_progress: bool

    def is_shown_at(self, now: datetime) -> bool:
        # Recomputed from a cached copy: a notice whose end has passed leaves the page within the cache's minute.
        return window_open(self.starts_at, self.ends_at, now)

    def in_progress_at(self, now: datetime) -> bool:
        # Recomputed per request: a cached list must not say "planned" once the window has begun.
        return window_open(self.window_start, self.window_end, now)


def maintenance_notices_for(municipality_id: int | None, now: datetime) -> list[NoticeView]:
    """The notices shown now to one city (`municipality_id`) or, with None, on the vendor's pages.

    One query in the public schema: notices for every city (none named) plus those naming this city.
    """
    targets = Q(municipalities__isnull=True)
    if municipality_id is not None:
        targets |= Q(municipalities__id=municipality_id)
    with schema_context("public"):
        rows = (
            MaintenanceNotice.objects.filter(targets, shown_at_q(now)).distinct().order_by("starts_at", "pk")
        )
        return [
            NoticeView(
                title_ja=row.title_ja,
                title_en=row.title_en,
                body_ja=row.body_ja,
                body_en=row.body_en,
                window_start=row.window_start,
                window_end=row.window_end,
                starts_at=row.starts_at,
                ends_at=row.ends_at,
                in_progress=row.in_progress(now),
            )
            for row in rows
        ]
