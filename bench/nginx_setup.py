"""The slot-release rush's cities and figures (part `nginx`, bench/nginx_rush.py): the rush city with its release
month of slots and the browsed cities, the overbooking count over that month after the run, and the run's result."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.common import CITY_HOST_SUFFIX, log
from bench.tenancy import Cities
from bench.wrk_contested import Overbooking, day_state
from bench.wrk_run import WrkResult
from bench.wrk_setup import APPLICATION

SECTION = "nginx"  # the load-average key


@dataclass
class RushSetup:
    rush_host: str
    schema: str
    month: str  # YYYY-MM, the release month
    days: list[str]  # its days with slots
    slots: int
    seats_per_slot: int
    seats: int
    browse_hosts: list[str]
    browse_months: list[str]


def release_month(today: dt.date) -> dt.date:
    """The month after `today`'s: the one released in a rush (its first day is always a few days ahead)."""
    return (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def seats_per_slot(target_seats: int, slots: int) -> int:
    """Seats per slot so the month holds at least `target_seats` (one at least)."""
    return max(1, math.ceil(target_seats / slots)) if slots else 0


def rush_setup(cities: Cities, *, target_seats: int, browse_cities: int) -> RushSetup:
    """The rush city with its release month of slots (`target_seats` seats over the month's slots, spread evenly,
    nothing taken) and `browse_cities` other cities with their booking window of slots."""
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from apps.booking.calendar.availability import availability_months_changed
    from apps.booking.calendar.hours import TOKYO
    from apps.booking.calendar.services import slots_sync
    from apps.booking.models import Purpose, Slot

    today = timezone.now().astimezone(TOKYO).date()
    month = release_month(today)
    after = (month + dt.timedelta(days=32)).replace(day=1)
    log(f"nginx: the rush city and {browse_cities} browsing cities", SECTION)
    rush_slug, _ = cities.create("clone")
    browse = [cities.create("clone")[0] for _ in range(browse_cities)]
    for slug in [rush_slug, *browse]:
        with schema_context(slug):
            slots_sync(today=today)
    with schema_context(rush_slug):
        group = Purpose.objects.get(code=APPLICATION).counter_group
        first = dt.datetime.combine(max(month, today + dt.timedelta(days=2)), dt.time(), TOKYO)
        released = Slot.objects.filter(
            counter_group=group,
            start__gte=first,
            start__lt=dt.datetime.combine(after, dt.time(), TOKYO),
            blocked=False,
        )
        slots = released.count()
        per_slot = seats_per_slot(target_seats, slots)
        released.update(seats=per_slot, staff_seats=0, taken=0)
        days = sorted(
            {start.astimezone(TOKYO).date().isoformat() for start in released.values_list("start", flat=True)}
        )
        availability_months_changed(counter_group_id=group.pk, first=today, last=after)
    connection.set_schema_to_public()  # type: ignore[attr-defined]  # django-tenants' backend
    return RushSetup(
        rush_host=rush_slug + CITY_HOST_SUFFIX,
        schema=rush_slug,
        month=f"{month:%Y-%m}",
        days=days,
        slots=slots,
        seats_per_slot=per_slot,
        seats=slots * per_slot,
        browse_hosts=[slug + CITY_HOST_SUFFIX for slug in browse],
        browse_months=[f"{today:%Y-%m}", f"{month:%Y-%m}"],
    )


def overbooking_check(schema: str, days: Sequence[str]) -> Overbooking:
    """bench/wrk_contested.py's CHECK_SQL over every day of the release month."""
    found = Overbooking()
    for day in days:
        found.count(day_state(schema, day))
    return found


@dataclass
class NginxRushResult:
    residents: int
    connections: int
    browsers: int
    workers: int
    threads: int
    setup: RushSetup | None = None
    skipped: str = ""
    ceiling: WrkResult = field(default_factory=WrkResult)
    trivial: list[WrkResult] = field(default_factory=list)  # through nginx, before and after the rush
    trivial_direct: WrkResult = field(default_factory=WrkResult)  # the same view on gunicorn, without nginx
    rush: WrkResult = field(default_factory=WrkResult)
    browse: WrkResult = field(default_factory=WrkResult)
    rush_seconds: float = 0.0  # wall time from wrk's start to every thread's last resident
    finished: bool = False  # every resident done before the duration cap
    limit: float = 0.0
    check: Overbooking = field(default_factory=Overbooking)
    booked_in_db: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    processes: dict[str, int] = field(default_factory=dict)  # per component, at the rush's end
    loads: list[float] = field(default_factory=list)
    nginx_version: str = ""
    app_errors: list[str] = field(default_factory=list)
    profiles: dict[str, Any] = field(
        default_factory=dict
    )  # page → bench.profiler.Profile, when a target is missed
