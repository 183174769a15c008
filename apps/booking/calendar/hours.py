"""When a counter group is open: weekly hours, national holidays, the year end, and the city's own days."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import jpholiday
from django.utils.translation import pgettext_lazy

from apps.booking.models import BookingSettings, CalendarDay, CounterGroup, OpeningHours

TOKYO = ZoneInfo("Asia/Tokyo")
# Short weekday names, Monday first (date.weekday()), for pages and reports.
WEEKDAYS = [
    pgettext_lazy("曜日", "月"),
    pgettext_lazy("曜日", "火"),
    pgettext_lazy("曜日", "水"),
    pgettext_lazy("曜日", "木"),
    pgettext_lazy("曜日", "金"),
    pgettext_lazy("曜日", "土"),
    pgettext_lazy("曜日", "日"),
]
Range = tuple[time, time]


def is_year_end(day: date) -> bool:
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def is_national_holiday(day: date) -> bool:
    """Japanese national holidays including substitute (振替休日) and citizens' holidays (jpholiday)."""
    return bool(jpholiday.is_holiday(day))


def open_ranges(
    *,
    day: date,
    weekly: Iterable[OpeningHours],
    calendar_days: Iterable[CalendarDay],
    settings: BookingSettings,
) -> list[Range]:
    """The ranges one counter group is open on `day` (its own rows of weekly hours and calendar days)."""
    days = list(calendar_days)
    special = sorted((d.start, d.end) for d in days if d.kind == CalendarDay.Kind.OPEN and d.start and d.end)
    if any(d.kind == CalendarDay.Kind.CLOSED for d in days):
        return []
    if special:
        return special  # a city opens on purpose: its hours that day, holidays notwithstanding
    if settings.closed_year_end and is_year_end(day):
        return []
    if settings.closed_on_holidays and is_national_holiday(day):
        return []
    return sorted((h.start, h.end) for h in weekly if h.weekday == day.weekday())


def frames(*, day: date, ranges: Iterable[Range], minutes: int) -> list[tuple[datetime, datetime]]:
    """Whole frames of `minutes` inside each range (a remainder shorter than a frame is not bookable)."""
    result = []
    step = timedelta(minutes=minutes)
    for start, end in ranges:
        cursor = datetime.combine(day, start, TOKYO)
        stop = datetime.combine(day, end, TOKYO)
        while cursor + step <= stop:
            result.append((cursor, cursor + step))
            cursor += step
    return result


def group_frames(
    *, group: CounterGroup, first: date, last: date, settings: BookingSettings
) -> list[tuple[datetime, datetime]]:
    weekly = list(group.hours.all())
    by_date: dict[date, list[CalendarDay]] = {}
    for entry in CalendarDay.objects.filter(date__range=(first, last)).filter(
        counter_group__isnull=True
    ) | CalendarDay.objects.filter(date__range=(first, last), counter_group=group):
        by_date.setdefault(entry.date, []).append(entry)
    result = []
    day = first
    while day <= last:
        ranges = open_ranges(day=day, weekly=weekly, calendar_days=by_date.get(day, []), settings=settings)
        result.extend(frames(day=day, ranges=ranges, minutes=group.frame_minutes))
        day += timedelta(days=1)
    return result
