"""Reads of the vendor console's public tables, for every page (city or vendor)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django_tenants.utils import schema_context

from console.models import MaintenanceNotice


@dataclass(frozen=True)
class NoticeView:
    """A notice ready for a template (plain values: safe to cache)."""

    title_ja: str
    title_en: str
    body_ja: str
    body_en: str
    window_start: datetime | None
    window_end: datetime | None
    ends_at: datetime | None
    in_progress: bool


def maintenance_notices_for(municipality_id: int | None, now: datetime) -> list[NoticeView]:
    """The notices shown now to one city (`municipality_id`) or, with None, on the vendor's pages.

    One query in the public schema: notices for every city (none named) plus those naming this city.
    """
    targets = Q(municipalities__isnull=True)
    if municipality_id is not None:
        targets |= Q(municipalities__id=municipality_id)
    with schema_context("public"):
        rows = (
            MaintenanceNotice.objects.filter(targets, starts_at__lte=now)
            .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
            .distinct()
            .order_by("starts_at", "pk")
        )
        return [
            NoticeView(
                title_ja=row.title_ja,
                title_en=row.title_en,
                body_ja=row.body("ja"),
                body_en=row.body("en"),
                window_start=row.window_start,
                window_end=row.window_end,
                ends_at=row.ends_at,
                in_progress=row.in_progress(now),
            )
            for row in rows
        ]
