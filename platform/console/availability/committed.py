"""The committed service hours a month's availability is measured against (the contract, DOMAIN.md).

Booking and the API: every minute of every day. Issuance: the city's opening days and hours, read in the city's
schema from booking's weekly hours and calendar (apps.booking.calendar.hours.open_ranges: holidays, the year end
and the city's own closures and special openings), as the union over the city's active counters.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django_tenants.utils import schema_context

from apps.booking.calendar.hours import TOKYO, Range, open_ranges
from apps.booking.models import BookingSettings, CalendarDay, CounterGroup
from console.maintenance.models import Module

Interval = tuple[datetime, datetime]


def _merged(ranges: list[Range]) -> list[Range]:
    merged: list[Range] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def open_ranges_by_day(schema: str, first: date, last: date) -> dict[date, list[Range]]:
    """The hours any active counter of the city is open on each day from `first` to `last` (merged)."""
    with schema_context(schema):
        settings = BookingSettings.objects.filter(pk=1).first() or BookingSettings()
        groups = list(CounterGroup.objects.filter(active=True).prefetch_related("hours"))
        calendar: dict[date, list[CalendarDay]] = {}
        for entry in CalendarDay.objects.filter(date__range=(first, last)):
            calendar.setdefault(entry.date, []).append(entry)
    result: dict[date, list[Range]] = {}
    day = first
    while day <= last:
        ranges: list[Range] = []
        for group in groups:
            days = [d for d in calendar.get(day, []) if d.counter_group_id in (None, group.pk)]
            ranges += open_ranges(day=day, weekly=group.hours.all(), calendar_days=days, settings=settings)
        result[day] = _merged(ranges)
        day += timedelta(days=1)
    return result


def committed_intervals(*, schema: str, module: str, start: datetime, end: datetime) -> list[Interval]:
    """The committed hours of `module` inside [start, end), as sorted intervals that do not overlap."""
    if end <= start:
        return []
    if module != Module.ISSUANCE:
        return [(start, end)]
    first, last = start.astimezone(TOKYO).date(), (end - timedelta(microseconds=1)).astimezone(TOKYO).date()
    intervals = []
    for day, ranges in open_ranges_by_day(schema, first, last).items():
        for opens, closes in ranges:
            lo = max(datetime.combine(day, opens, TOKYO), start)
            hi = min(datetime.combine(day, closes, TOKYO), end)
            if lo < hi:
                intervals.append((lo, hi))
    return intervals
