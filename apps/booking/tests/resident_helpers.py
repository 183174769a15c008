"""Shared steps of the resident page tests. Their slots come from SlotFactory on `visit_day()` (tests.factories): a few
days ahead of the real now, as the views use timezone.now()."""

from __future__ import annotations

import re

from django.test import Client

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import Purpose, Slot


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
