"""Reads for the resident pages: purposes, the times of a day, other free times after a slot was just taken."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from apps.booking.calendar.availability import AVAILABLE, FEW, bookable_range, month_availability
from apps.booking.calendar.hours import TOKYO
from apps.booking.models import BookingSettings, Hold, Purpose, Slot


def purposes_active() -> list[Purpose]:
    return list(Purpose.objects.filter(active=True, counter_group__active=True))


@dataclass(frozen=True)
class TimeChoice:
    slot: Slot
    persons_free: int  # persons of this purpose the slot can still take


def day_times(*, purpose: Purpose, day: date, settings: BookingSettings, now: datetime) -> list[TimeChoice]:
    """The purpose's slots of `day` that residents can book now (full ones included, with 0 free)."""
    first, last = bookable_range(settings, now)
    start = datetime.combine(day, datetime.min.time(), TOKYO)
    slots = Slot.objects.filter(
        counter_group_id=purpose.counter_group_id,
        start__gte=max(start, first),
        start__lt=min(start + timedelta(days=1), last),
        blocked=False,
    ).order_by("start")
    return [TimeChoice(slot, slot.free_for_residents // purpose.seats_per_person) for slot in slots]


def other_days(
    *, purpose: Purpose, after: date, settings: BookingSettings, now: datetime, limit: int = 5
) -> list[date]:
    """The next days after `after` with free times (this month and the next, from the cached calendar)."""
    found: list[date] = []
    year, month = after.year, after.month
    for _ in range(2):
        for day in month_availability(purpose=purpose, year=year, month=month, settings=settings, now=now):
            if day.day > after and day.status in (AVAILABLE, FEW) and len(found) < limit:
                found.append(day.day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def hold_get(token: uuid.UUID) -> Hold | None:
    return Hold.objects.select_related("slot__counter_group", "purpose").filter(token=token).first()
