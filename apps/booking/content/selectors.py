"""Reads of what a city publishes: the announcements shown now, and the city's own email texts."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils.safestring import SafeString

from apps.booking.models_content import Announcement, EmailText


def announcements_current(now: datetime) -> QuerySet[Announcement]:
    """The announcements shown at `now`: started, and not yet ended (no end means until withdrawn)."""
    return Announcement.objects.shown_at(now)


def announcements_shown(now: datetime, language: str) -> list[dict[str, str | SafeString | datetime]]:
    """The current announcements ready for a page in `language` (the body is sanitised again as it goes out)."""
    return [
        {"title": a.title_for(language), "body": a.body_for(language), "starts_at": a.starts_at}
        for a in announcements_current(now).order_by("-starts_at", "-pk")
    ]


def announcements_all() -> QuerySet[Announcement]:
    return Announcement.objects.order_by("-starts_at", "-pk")


def email_text_get(kind: str, language: str) -> EmailText | None:
    return EmailText.objects.filter(kind=kind, language=language).first()


def email_texts() -> dict[tuple[str, str], EmailText]:
    return {(t.kind, t.language): t for t in EmailText.objects.all()}
