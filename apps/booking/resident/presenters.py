"""What the resident pages show, built without a request: the month grid (rendered once, then cached by page_cache),
the times of a day, a booking's summary, and the labels they share."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from apps.booking.calendar.availability import AVAILABLE, CLOSED, FEW, FULL, OUTSIDE, month_availability
from apps.booking.calendar.hours import TOKYO, WEEKDAYS
from apps.booking.models import BookingSettings, Purpose, Reservation
from apps.booking.reservations.selectors import city_phone
from apps.booking.resident.selectors import day_times
from base.japanese import to_wareki

STATUS_LABELS = {
    AVAILABLE: ("○", gettext_noop("空きあり")),
    FEW: ("△", gettext_noop("残りわずか")),
    FULL: ("×", gettext_noop("満席")),
    CLOSED: ("—", gettext_noop("休み")),
    OUTSIDE: ("—", gettext_noop("受付期間外")),
}


def page_language() -> str:
    return "en" if (translation.get_language() or "ja").startswith("en") else "ja"


def slot_label(start: datetime) -> str:
    local = start.astimezone(TOKYO)
    return f"{local:%H:%M}"


def day_label(day: date) -> str:
    return f"{day:%Y-%m-%d}（{WEEKDAYS[day.weekday()]}）"


def shift(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + delta
    return index // 12, index % 12 + 1


def calendar_body(purpose: Purpose, year: int, month: int, settings: BookingSettings, now: datetime) -> str:
    today = now.astimezone(TOKYO).date()
    last_day = today + timedelta(days=settings.opens_days_ahead)
    days = month_availability(purpose=purpose, year=year, month=month, settings=settings, now=now)
    leading = [None] * days[0].day.weekday()  # the grid starts on Monday
    cells = leading + [
        {
            "day": d,
            "status": d.status,
            "symbol": STATUS_LABELS[d.status][0],
            "label": _(STATUS_LABELS[d.status][1]),
            "bookable": d.status in (AVAILABLE, FEW),
            "weekday": d.day.weekday(),
            "today": d.day == today,
        }
        for d in days
    ]
    cells += [None] * (-len(cells) % 7)
    weeks = [cells[i : i + 7] for i in range(0, len(cells), 7)]
    previous, following = shift(year, month, -1), shift(year, month, 1)
    return render_to_string(
        "booking/resident/_calendar_body.html",
        {
            "purpose": purpose,
            "purpose_name": purpose.name(page_language()),
            "year": year,
            "month": month,
            "weeks": weeks,
            "weekdays": [str(w) for w in WEEKDAYS],
            "previous": f"{previous[0]:04d}-{previous[1]:02d}"
            if previous >= (today.year, today.month)
            else None,
            "next": f"{following[0]:04d}-{following[1]:02d}"
            if following <= (last_day.year, last_day.month)
            else None,
            "legend": [
                (s, STATUS_LABELS[s][0], _(STATUS_LABELS[s][1]))
                for s in (AVAILABLE, FEW, FULL, CLOSED, OUTSIDE)
            ],
        },
    )


def day_context(purpose: Purpose, day: date, settings: BookingSettings, now: datetime) -> dict[str, Any]:
    times = day_times(purpose=purpose, day=day, settings=settings, now=now)
    return {
        "purpose": purpose,
        "purpose_name": purpose.name(page_language()),
        "day": day,
        "day_label": day_label(day),
        "wareki": to_wareki(day),
        "times": [{"choice": t, "label": slot_label(t.slot.start)} for t in times],
        "any_free": any(t.persons_free for t in times),
        "max_persons": settings.max_persons,
        "month": f"{day:%Y-%m}",
    }


def reservation_context(reservation: Reservation) -> dict[str, Any]:
    language = page_language()
    start = reservation.slot.start.astimezone(TOKYO)
    return {
        "reservation": reservation,
        "persons": list(reservation.persons.all()),
        "purpose_name": reservation.purpose.name(language),
        "bring": reservation.purpose.bring(language),
        "counter": reservation.slot.counter_group,
        "day_label": day_label(start.date()),
        "time_label": f"{start:%H:%M}–{reservation.slot.end.astimezone(TOKYO):%H:%M}",
        "wareki": to_wareki(start.date()),
        "city_phone": city_phone(),
    }
