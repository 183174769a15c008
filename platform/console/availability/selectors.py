"""Reads: the monthly availability report of a city and the incidents (docs/console.md, "Availability and incidents").

The report's figures per module, inside the committed hours (console.availability.committed) of the month up to
the last whole minute:
- committed: minutes the service was promised;
- maintenance: minutes inside a window the city approved in time (console.maintenance), shown apart, never down;
- down: minutes the probe found the city down, plus minutes with no sample at all (the probe did not run);
- availability % = (committed - maintenance - down) / (committed - maintenance), cut (never rounded up) to three
  decimals; no figure when nothing was committed outside maintenance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from apps.booking.calendar.hours import TOKYO
from apps.security.actors import Actor
from console.availability.committed import committed_intervals
from console.availability.models import Incident, ProbeSample
from console.availability.probe import minute_of
from console.maintenance.models import MODULES, Module
from console.maintenance.selectors import approved_windows
from tenants.models import Municipality

MINUTE = timedelta(minutes=1)
PERCENT_PLACES = Decimal("0.001")


class Kind:
    DOWN = "down"
    UNRECORDED = "unrecorded"  # no sample that minute: counted as down


@dataclass(frozen=True)
class DownInterval:
    start: datetime
    end: datetime
    kind: str

    @property
    def minutes(self) -> int:
        return int((self.end - self.start) / MINUTE)


@dataclass(frozen=True)
class MaintenanceWindow:
    start: datetime
    end: datetime
    title: str
    minutes: int  # of it inside the committed hours


@dataclass
class ModuleReport:
    module: str
    committed: int = 0
    maintenance: int = 0
    down: int = 0
    down_intervals: list[DownInterval] = field(default_factory=list)
    windows: list[MaintenanceWindow] = field(default_factory=list)
    down_by_day: dict[date, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return str(Module(self.module).label)

    @property
    def measured(self) -> int:
        return self.committed - self.maintenance

    @property
    def availability(self) -> Decimal | None:
        if self.measured <= 0:
            return None
        value = Decimal(self.measured - self.down) * 100 / Decimal(self.measured)
        return value.quantize(PERCENT_PLACES, rounding=ROUND_DOWN)


@dataclass(frozen=True)
class MonthReport:
    municipality_id: int
    city_name: str
    slug: str
    month: date  # the first day
    start: datetime
    end: datetime  # the end of the month, or the last whole minute of a month in progress
    complete: bool
    modules: list[ModuleReport]


def month_bounds(month: date) -> tuple[datetime, datetime]:
    first = datetime(month.year, month.month, 1, tzinfo=TOKYO)
    following = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=TOKYO)
    return first, following


def _minute_index(moment: datetime) -> int:
    return int(moment.timestamp()) // 60


def _minutes(intervals: list[tuple[datetime, datetime]]) -> list[int]:
    found: list[int] = []
    for start, end in intervals:
        found.extend(range(_minute_index(start), _minute_index(end)))
    return found


def _samples(
    municipality_id: int, module: str, start: datetime, end: datetime
) -> dict[int, tuple[bool, bool]]:
    """minute index -> (down, in maintenance) for this city, from the minutes recorded in [start, end)."""
    rows = (
        ProbeSample.objects.filter(module=module, minute__gte=start, minute__lt=end)
        .annotate(
            is_down=ExpressionWrapper(Q(down__contains=[municipality_id]), output_field=BooleanField()),
            in_maintenance=ExpressionWrapper(
                Q(maintenance__contains=[municipality_id]), output_field=BooleanField()
            ),
        )
        .values_list("minute", "is_down", "in_maintenance")
    )
    return {_minute_index(minute): (down, maint) for minute, down, maint in rows}


def _module_report(city: Municipality, module: str, start: datetime, end: datetime) -> ModuleReport:
    report = ModuleReport(module=module)
    committed = _minutes(committed_intervals(schema=city.schema_name, module=module, start=start, end=end))
    approved = approved_windows(city.pk, module, start, end)
    committed_set = set(committed)
    in_window: set[int] = set()
    for window in approved:
        minutes = set(_minutes([(max(window.start, start), min(window.end, end))]))
        in_window |= minutes
        report.windows.append(
            MaintenanceWindow(
                start=window.start,
                end=window.end,
                title=window.title_for(),
                minutes=len(minutes & committed_set),
            )
        )
    samples = _samples(city.pk, module, start, end)
    run: tuple[int, int, str] | None = (
        None  # first minute, last minute, kind of the down interval being built
    )
    for index in committed:
        sample = samples.get(index)
        report.committed += 1
        if index in in_window or (sample is not None and sample[1]):
            report.maintenance += 1
            continue
        kind = Kind.UNRECORDED if sample is None else Kind.DOWN if sample[0] else None
        if kind is None:
            continue
        report.down += 1
        day = datetime.fromtimestamp(index * 60, TOKYO).date()
        report.down_by_day[day] = report.down_by_day.get(day, 0) + 1
        if run is not None and run[1] == index - 1 and run[2] == kind:
            run = (run[0], index, kind)
            continue
        if run is not None:
            report.down_intervals.append(_interval(run))
        run = (index, index, kind)
    if run is not None:
        report.down_intervals.append(_interval(run))
    return report


def _interval(run: tuple[int, int, str]) -> DownInterval:
    return DownInterval(
        start=datetime.fromtimestamp(run[0] * 60, TOKYO),
        end=datetime.fromtimestamp((run[1] + 1) * 60, TOKYO),
        kind=run[2],
    )


def availability_report(
    actor: Actor, *, municipality: Municipality, month: date, now: datetime
) -> MonthReport:
    """The month's report for every module. A month in progress runs to the last whole minute; minutes before
    the city existed are not committed."""
    first, following = month_bounds(month)
    created = minute_of(municipality.created_at) + (MINUTE if municipality.created_at.second else timedelta())
    start = max(first, created)
    end = min(following, minute_of(now))
    modules = [_module_report(municipality, module, start, max(start, end)) for module in MODULES]
    return MonthReport(
        municipality_id=municipality.pk,
        city_name=municipality.name_ja,
        slug=municipality.slug,
        month=date(month.year, month.month, 1),
        start=start,
        end=max(start, end),
        complete=end >= following,
        modules=modules,
    )


def city_for_report(actor: Actor, slug: str) -> Municipality | None:
    return Municipality.objects.exclude(schema_name="public").filter(slug=slug).first()


def city_by_id(actor: Actor, municipality_id: int) -> Municipality:
    """The city read again (a request's tenant may be a cached copy of the row)."""
    return Municipality.objects.get(pk=municipality_id)


# --- Incidents ---------------------------------------------------------------------------------------------------


def incidents_for_console(actor: Actor) -> QuerySet[Incident]:
    return Incident.objects.prefetch_related("municipalities").order_by("-received_at", "-pk")


def incident_for_console(actor: Actor, incident_id: int) -> Incident | None:
    return incidents_for_console(actor).prefetch_related("entries").filter(pk=incident_id).first()


def incidents_for_city(actor: Actor, municipality_id: int) -> QuerySet[Incident]:
    """Only the incidents that name the city: another city's never shows, nor counts, here."""
    return Incident.objects.filter(municipalities=municipality_id).order_by("-received_at", "-pk")


def incident_for_city(actor: Actor, municipality_id: int, incident_id: int) -> Incident | None:
    return (
        incidents_for_city(actor, municipality_id).prefetch_related("entries").filter(pk=incident_id).first()
    )
