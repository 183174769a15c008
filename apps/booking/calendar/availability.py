"""Per-day availability of a purpose's month, cached, and invalidated on every change of a slot's `taken`.

The cache holds, per counter group and month, each open slot's start and its seats free for residents: one query
builds it however many slots and bookings there are, and the purpose's view (how many seats a person needs, what is
inside the booking window now) is worked out in Python. Keys are tenant-prefixed by the cache's key function.
Every service that changes `taken` (or blocks a slot) calls `availability_changed(slot)` after its write; that
also forgets the month's cached calendar pages (`page_cache`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.db import transaction

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import BookingSettings, Purpose, Slot
from apps.booking.resident.page_cache import calendar_pages_forget

CACHE_SECONDS = 10 * 60
# A day is "残りわずか" when the persons it can still take are at most this many, or this share of its seats.
FEW_PERSONS = 3
FEW_SHARE = 0.2

AVAILABLE, FEW, FULL, CLOSED = "available", "few", "full", "closed"
OUTSIDE = "outside"  # before the booking deadline (past days included) or beyond the booking window

CachedDay = list[tuple[float, int, int]]  # (start as a timestamp, free seats for residents, seats)


def _key(counter_group_id: int, year: int, month: int) -> str:
    return f"booking:availability:{counter_group_id}:{year:04d}-{month:02d}"


def _month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    first = datetime(year, month, 1, tzinfo=TOKYO)
    following = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=TOKYO)
    return first, following


def availability_changed(slot: Slot) -> None:
    """Forget the cached month of this slot's counter group once the writer commits.

    Only after commit: with the database cache (no Redis) a delete inside the booking's transaction would lock the
    month's cache row until commit, and every other hold and calendar reader of that month would queue behind it.
    A reader in between sees the month as it was before this write, which is what was committed then.
    """
    start = slot.start.astimezone(TOKYO)
    key = _key(slot.counter_group_id, start.year, start.month)

    def forget() -> None:
        cache.delete(key)
        calendar_pages_forget(year=start.year, month=start.month, day=start.date())

    transaction.on_commit(forget)


def availability_months_changed(*, counter_group_id: int, first: date, last: date) -> None:
    """Forget every cached month of a counter group between two dates (slots were created or withdrawn)."""
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        cache.delete(_key(counter_group_id, year, month))
        calendar_pages_forget(year=year, month=month)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _month_slots(counter_group_id: int, year: int, month: int) -> dict[int, CachedDay]:
    key = _key(counter_group_id, year, month)
    cached: dict[int, CachedDay] | None = cache.get(key)
    if cached is not None:
        return cached
    first, following = _month_bounds(year, month)
    days: dict[int, CachedDay] = {}
    rows = (
        Slot.objects.filter(
            counter_group_id=counter_group_id, start__gte=first, start__lt=following, blocked=False
        )
        .order_by("start")
        .values_list("start", "seats", "staff_seats", "taken")
    )
    for start, seats, staff_seats, taken in rows:
        resident_seats = max(seats - staff_seats, 0)
        days.setdefault(start.astimezone(TOKYO).day, []).append(
            (start.timestamp(), max(resident_seats - taken, 0), resident_seats)
        )
    cache.set(key, days, CACHE_SECONDS)
    return days


@dataclass(frozen=True)
class DayAvailability:
    day: date
    status: str  # AVAILABLE, FEW, FULL, CLOSED or OUTSIDE
    persons_free: int  # how many persons of this purpose could still book that day


def bookable_range(settings: BookingSettings, now: datetime) -> tuple[datetime, datetime]:
    """Slots starting in [first, last) can be booked by residents now."""
    return (
        now + timedelta(hours=settings.closes_hours_before),
        now + timedelta(days=settings.opens_days_ahead + 1),
    )


def month_availability(
    *, purpose: Purpose, year: int, month: int, settings: BookingSettings, now: datetime
) -> list[DayAvailability]:
    """Every day of the month with its status for this purpose (one cache read, or one query on a miss)."""
    days = _month_slots(purpose.counter_group_id, year, month)
    window = bookable_range(settings, now)
    first, last = (t.timestamp() for t in window)
    first_day, last_day = (t.astimezone(TOKYO).date() for t in window)
    need = purpose.seats_per_person
    result = []
    month_start, following = _month_bounds(year, month)
    for offset in range((following - month_start).days):
        day = (month_start + timedelta(days=offset)).date()
        slots = [s for s in days.get(day.day, []) if first <= s[0] < last]
        if not slots:
            result.append(DayAvailability(day, OUTSIDE if not first_day <= day <= last_day else CLOSED, 0))
            continue
        persons = sum(free // need for _start, free, _seats in slots)
        capacity = sum(seats // need for _start, _free, seats in slots)
        if persons == 0:
            status = FULL
        elif persons <= FEW_PERSONS or persons <= capacity * FEW_SHARE:
            status = FEW
        else:
            status = AVAILABLE
        result.append(DayAvailability(day, status, persons))
    return result
