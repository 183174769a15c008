"""Shared set-up of the resident page tests: slots a few days ahead of the real now (views use timezone.now())."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from django.test import Client
from django.utils import timezone

from apps.booking.calendar import TOKYO
from apps.booking.models import CounterGroup, Purpose, Slot


def visit_day(days_ahead: int = 4) -> date:
    """A weekday at least `days_ahead` days from now (outside the 24-hour closing time, inside the window)."""
    day = timezone.now().astimezone(TOKYO).date() + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def make_slot(day: date, at: time = time(10, 0), seats: int = 2) -> Slot:
    group = CounterGroup.objects.get()
    start = datetime.combine(day, at, TOKYO)
    return Slot.objects.create(
        counter_group=group, start=start, end=start + timedelta(minutes=30), seats=seats
    )


def application() -> Purpose:
    return Purpose.objects.get(code="application")


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)


def person_data(
    prefix: str, name: str, era: str, year: str, month: str, day: str, kana: str = ""
) -> dict[str, str]:
    return {
        f"{prefix}-name": name,
        f"{prefix}-kana": kana,
        f"{prefix}-birth_date_0": era,
        f"{prefix}-birth_date_1": year,
        f"{prefix}-birth_date_2": month,
        f"{prefix}-birth_date_3": day,
    }


def hold_url(client: Client, slot: Slot, persons: int = 1, purpose_code: str = "application") -> str:
    day = slot.start.astimezone(TOKYO).date().isoformat()
    response = client.post(f"/book/{purpose_code}/{day}/", {"slot": slot.pk, "persons": persons})
    assert response.status_code == 302, response.content.decode()[:2000]
    return str(response["Location"])
