"""Reads of what a city publishes: the announcements shown now, and the city's own email texts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils.safestring import SafeString

from apps.booking.models_content import Announcement, EmailText


def announcements_current(now: datetime) -> QuerySet[Announcement]:
    """The announcements shown at `now`: started, and not yet ended (no end means until withdrawn)."""
    return Announcement.objects.shown_at(now)


def announcements_shown(now: datetime, language: str) -> list[dict[str, str | SafeString | datetime]]:
    """The current announcements ready for a page in `language` (the body is sanitised again as it goes out)."""
    return announcements_for_page(announcements_current(now), now, language)


def announcements_not_ended(now: datetime) -> list[Announcement]:
    """Every announcement shown now or later (kept in the resident context, which is forgotten when one is saved)."""
    return list(Announcement.objects.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now)))


def announcements_for_page(
    announcements: Iterable[Announcement], now: datetime, language: str
) -> list[dict[str, str | SafeString | datetime]]:
    """Those of `announcements` shown at `now`, newest first, ready for a page in `language` (no query)."""
    shown = sorted(
        (a for a in announcements if a.is_shown_at(now)), key=lambda a: (a.starts_at, a.pk), reverse=True
    )
    return [
        {"title": a.title_for(language), "body": a.body_for(language), "starts_at": a.starts_at}
        for a in shown
    ]


def announcements_all() -> QuerySet[Announcement]:
    return Announcement.objects.order_by("-starts_at", "-pk")


def email_text_get(kind: str, language: str) -> EmailText | None:
    return EmailText.objects.filter(kind=kind, language=language).first()


def email_texts() -> dict[tuple[str, str], EmailText]:
    return {(t.kind, t.language): t for t in EmailText.objects.all()}
