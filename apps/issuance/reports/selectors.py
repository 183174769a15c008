"""Reads for the work lists and the reports (docs/reports.md defines each list and each figure).

Every count is an aggregate query (GROUP BY in PostgreSQL); no figure is made by walking cards in Python. Days and
months are calendar days and months in Japan. Everything reads the current schema: one city's figures only.

The work lists show residents' personal data: a list's page and its export take the `actor` and record
`personal_data.viewed`; the reports show counts only.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Trunc
from django.utils.translation import gettext as _

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import Reservation, Slot
from apps.issuance.models import Card, CardEvent, CardState, EventKind
from apps.issuance.states import ACTIONS
from apps.security.actors import Actor
from apps.security.audit import audit_record

if TYPE_CHECKING:  # worklists.py builds its registry from the reads below
    from apps.issuance.reports.worklists import ListContext, WorkList

# Cards the city holds and may still hand over: the states "expire" applies to (delivered, set up, notice mailed,
# returned mail).
RETENTION_STATES = ACTIONS["expire"].sources
# At a month's end a card is no longer on hand once it was issued, mailed to the resident, cancelled or disposed.
GONE_STATES = frozenset({CardState.ISSUED, CardState.MAILED, CardState.CANCELLED, CardState.DISPOSED})
DAY, MONTH = "day", "month"
NO_KIND = "（未設定）"
NO_COUNTER = "（予約なし）"


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, TOKYO)


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months, clamped to the month's last day (Aug 31 + 6 months = Feb 28), as PostgreSQL's
    date + interval does."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def month_end(first: date) -> date:
    return date(first.year, first.month, calendar.monthrange(first.year, first.month)[1])


# --- Work lists ----------------------------------------------------------------------------------------------------


def unclaimed_cutoff(*, today: date, weeks: int) -> date:
    """Cards mailed on this day or earlier have waited `weeks` weeks or more by `today`."""
    return today - timedelta(weeks=weeks)


def unclaimed_cards(*, today: date, weeks: int) -> QuerySet[Card]:
    """Notice mailed, and the last mailing (notice, re-send or reminder; when unknown, the time the card entered
    the state) was on or before `weeks` weeks ago: candidates for a reminder (再通知). A reminder restarts the
    wait, so a reminded card comes back only after another `weeks` weeks."""
    before = day_start(unclaimed_cutoff(today=today, weeks=weeks) + timedelta(days=1))
    return (
        Card.objects.annotate(waiting_since=Coalesce("notice_mailed_at", "state_changed_at"))
        .filter(state=CardState.NOTICE_MAILED, waiting_since__lt=before)
        .order_by("waiting_since", "pk")
    )


def retention_end(delivery_date: date, months: int) -> date:
    """The day a card's retention ends: its delivery date plus the city's retention months."""
    return add_months(delivery_date, months)


def retention_cutoff(*, today: date, months: int) -> date:
    """The latest delivery date whose retention has ended by `today` (retention_end(d) <= today ⇔ d <= this)."""
    back = add_months(today, -months)
    if today == month_end(today.replace(day=1)):
        return month_end(back.replace(day=1))  # today is a month's last day: every later day clamps onto it
    return back


def retention_cards(*, today: date, months: int) -> QuerySet[Card]:
    """Still on hand (delivered, set up, notice mailed, returned mail) and the retention has ended: candidates to
    mark "retention expired" and then dispose of."""
    return Card.objects.filter(
        state__in=RETENTION_STATES, delivery_date__lte=retention_cutoff(today=today, months=months)
    ).order_by("delivery_date", "notice_number")


def returned_mail_cards() -> QuerySet[Card]:
    return Card.objects.filter(state=CardState.RETURNED_MAIL).order_by("state_changed_at", "pk")


def no_show_events(*, date_from: date, date_to: date) -> QuerySet[CardEvent]:
    """No-show events (不来庁) recorded between the two days, both included, newest first."""
    return (
        CardEvent.objects.filter(
            kind=EventKind.NO_SHOW,
            at__gte=day_start(date_from),
            at__lt=day_start(date_to + timedelta(days=1)),
        )
        .select_related("card")
        .order_by("-at", "-pk")
    )


def expected_pickups(*, day: date) -> QuerySet[Card]:
    """Booked cards whose booking's frame starts on `day`, in time order."""
    return (
        Card.objects.filter(
            state=CardState.BOOKED,
            reservation__slot__start__gte=day_start(day),
            reservation__slot__start__lt=day_start(day + timedelta(days=1)),
        )
        .select_related("reservation__slot__counter_group")
        .order_by("reservation__slot__start", "notice_number")
    )


def _work_list_viewed(work_list: WorkList, summary: str, actor: Actor) -> None:
    audit_record(
        action="personal_data.viewed", actor=actor, target=f"issuance:list:{work_list.key}", summary=summary
    )


def work_list_page(
    work_list: WorkList, ctx: ListContext, *, page_number: str | None, per_page: int, actor: Actor
) -> Page[Any]:
    """One page of a work list as shown to `actor`: recorded as a personal-data view."""
    page = Paginator(work_list.query(ctx), per_page).get_page(page_number)
    shown = len(page.object_list)
    _work_list_viewed(
        work_list,
        _("%(title)s（%(count)d件中 %(shown)d件を表示）")
        % {"title": work_list.title, "count": page.paginator.count, "shown": shown},
        actor,
    )
    return page


def work_list_export_rows(
    work_list: WorkList, ctx: ListContext, *, encoding: str, actor: Actor
) -> QuerySet[Any]:
    """A work list's rows for its CSV, written out for `actor`: recorded as a personal-data view."""
    query = work_list.query(ctx)
    _work_list_viewed(
        work_list,
        _("%(title)sをCSVで出力（%(encoding)s、%(count)d件）")
        % {"title": work_list.title, "encoding": encoding, "count": query.count()},
        actor,
    )
    return query


# --- Reports -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date  # first day
    end: date  # first day after
    unit: str

    @property
    def key(self) -> date:
        return self.start

    @property
    def last(self) -> date:
        return self.end - timedelta(days=1)


def periods(*, unit: str, month: date) -> list[Period]:
    """Rows of a report: the days of `month` (unit "day"), or the twelve months ending with `month` ("month")."""
    first = month.replace(day=1)
    if unit == DAY:
        days = calendar.monthrange(first.year, first.month)[1]
        return [Period(first + timedelta(days=n), first + timedelta(days=n + 1), DAY) for n in range(days)]
    starts = [add_months(first, -n) for n in range(11, -1, -1)]
    return [Period(start, add_months(start, 1), MONTH) for start in starts]


def _bucket(value: datetime | date) -> date:
    return value.astimezone(TOKYO).date() if isinstance(value, datetime) else value


def _events(rows: list[Period]) -> QuerySet[CardEvent]:
    return CardEvent.objects.filter(at__gte=day_start(rows[0].start), at__lt=day_start(rows[-1].end))


def _period(field_name: str, rows: list[Period]) -> Trunc:
    return Trunc(field_name, rows[0].unit, tzinfo=TOKYO)


@dataclass
class ReportRow:
    period: Period
    events: dict[str, int] = field(default_factory=dict)  # event kind -> count
    entered: dict[str, int] = field(default_factory=dict)  # state -> cards that entered it
    issued_by_kind: dict[str, int] = field(default_factory=dict)
    issued_by_counter: dict[str, int] = field(default_factory=dict)
    seats_offered: int = 0
    seats_taken: int = 0
    done: int = 0
    no_show: int = 0
    on_hand_at_end: int | None = None

    @property
    def issued(self) -> int:
        return self.events.get(EventKind.ISSUED, 0)

    @property
    def seat_use(self) -> float | None:
        return self.seats_taken / self.seats_offered if self.seats_offered else None

    @property
    def no_show_rate(self) -> float | None:
        visits = self.done + self.no_show
        return self.no_show / visits if visits else None


@dataclass
class Report:
    unit: str
    rows: list[ReportRow]
    kinds: list[str]  # application kinds seen among issued cards
    counters: list[str]  # counter groups seen among issued cards
    states_now: dict[str, int]

    @property
    def total(self) -> ReportRow:
        """The sums of every row (the period is the whole report's)."""
        total = ReportRow(Period(self.rows[0].period.start, self.rows[-1].period.end, self.unit))
        for row in self.rows:
            for target, source in (
                (total.events, row.events),
                (total.entered, row.entered),
                (total.issued_by_kind, row.issued_by_kind),
                (total.issued_by_counter, row.issued_by_counter),
            ):
                for key, value in source.items():
                    target[key] = target.get(key, 0) + value
            total.seats_offered += row.seats_offered
            total.seats_taken += row.seats_taken
            total.done += row.done
            total.no_show += row.no_show
        total.on_hand_at_end = self.rows[-1].on_hand_at_end
        return total


def report(*, unit: str, month: date, on_hand: bool = False) -> Report:
    """The figures of each period: card events by kind, cards entering each state, issued cards by application
    kind and by counter, the booking side's seats and no-shows; with `on_hand`, the cards on hand at each
    period's end (one query per period)."""
    rows = {p.key: ReportRow(p) for p in periods(unit=unit, month=month)}
    ordered = list(rows.values())
    bounds = [r.period for r in ordered]
    trunc_unit = bounds[0].unit
    _card_side(rows, bounds)
    kinds, counters = _issued_by(rows, bounds)
    _booking_side(rows, bounds, trunc_unit)
    if on_hand:
        for row in ordered:
            row.on_hand_at_end = on_hand_at(row.period.last)
    states_now = dict(Card.objects.values("state").annotate(n=Count("pk")).values_list("state", "n"))
    return Report(unit=unit, rows=ordered, kinds=kinds, counters=counters, states_now=states_now)


def _card_side(rows: dict[date, ReportRow], bounds: list[Period]) -> None:
    """Events by kind, and cards entering each state (a transition: the state after differs from before)."""
    by_kind = _events(bounds).annotate(period=_period("at", bounds)).values("period", "kind")
    for event in by_kind.annotate(n=Count("pk")):
        rows[_bucket(event["period"])].events[event["kind"]] = event["n"]
    entering = _events(bounds).exclude(to_state="").exclude(to_state=F("from_state"))
    by_state = entering.annotate(period=_period("at", bounds)).values("period", "to_state")
    for entry in by_state.annotate(n=Count("pk")):
        rows[_bucket(entry["period"])].entered[entry["to_state"]] = entry["n"]


def _issued_by(rows: dict[date, ReportRow], bounds: list[Period]) -> tuple[list[str], list[str]]:
    """Issued cards by application kind and by the counter group of their booking; returns the kinds and the
    counters seen, in display order (blank kind and "no booking" last)."""
    issued = _events(bounds).filter(kind=EventKind.ISSUED).annotate(period=_period("at", bounds))
    kinds: set[str] = set()
    for by_kind in issued.values("period", "card__application_kind").annotate(n=Count("pk")):
        kind = by_kind["card__application_kind"] or NO_KIND
        kinds.add(kind)
        target = rows[_bucket(by_kind["period"])].issued_by_kind
        target[kind] = target.get(kind, 0) + by_kind["n"]
    counters: dict[int | None, str] = {}
    by_counter = issued.values(
        "period", "card__reservation__slot__counter_group", "card__reservation__slot__counter_group__name"
    ).annotate(n=Count("pk"))
    for counted in by_counter:
        group = counted["card__reservation__slot__counter_group"]
        name = counted["card__reservation__slot__counter_group__name"] or NO_COUNTER
        counters.setdefault(group, name)
        target = rows[_bucket(counted["period"])].issued_by_counter
        target[name] = target.get(name, 0) + counted["n"]
    ordered = [name for _group, name in sorted(counters.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))]
    return sorted(kinds, key=lambda k: (k == NO_KIND, k)), list(dict.fromkeys(ordered))


def _booking_side(rows: dict[date, ReportRow], bounds: list[Period], unit: str) -> None:
    """Seats offered and taken (open frames: not blocked) and done / no-show bookings, by the frame's day."""
    start, end = day_start(bounds[0].start), day_start(bounds[-1].end)
    slots = (
        Slot.objects.filter(start__gte=start, start__lt=end, blocked=False)
        .annotate(period=Trunc("start", unit, tzinfo=TOKYO))
        .values("period")
        .annotate(offered=Sum("seats"), taken=Sum("taken"))
    )
    for item in slots:
        row = rows[_bucket(item["period"])]
        row.seats_offered, row.seats_taken = item["offered"] or 0, item["taken"] or 0
    outcomes = (
        Reservation.objects.filter(
            slot__start__gte=start,
            slot__start__lt=end,
            status__in=[Reservation.Status.DONE, Reservation.Status.NO_SHOW],
        )
        .annotate(period=Trunc("slot__start", unit, tzinfo=TOKYO))
        .values("period", "status")
        .annotate(n=Count("pk"))
    )
    for outcome in outcomes:
        row = rows[_bucket(outcome["period"])]
        if outcome["status"] == Reservation.Status.DONE:
            row.done = outcome["n"]
        else:
            row.no_show = outcome["n"]


def on_hand_at(last_day: date) -> int:
    """Cards on hand at the end of `last_day`: delivered by then, and in a state other than issued, mailed,
    cancelled or disposed at that moment. The state at that moment is the one the card's last event up to then
    left it in (a card with no event yet counts as delivered), so later events never change a past month."""
    end = day_start(last_day + timedelta(days=1))
    last_state = (
        CardEvent.objects.filter(card=OuterRef("pk"), at__lt=end)
        .exclude(to_state="")
        .order_by("-at", "-pk")
        .values("to_state")[:1]
    )
    return (
        Card.objects.filter(delivery_date__lte=last_day)
        .annotate(state_then=Coalesce(Subquery(last_state), Value(CardState.DELIVERED.value)))
        .filter(~Q(state_then__in=GONE_STATES))
        .count()
    )


# The monthly summary's columns: (key, event kind counted in the month).
SUMMARY_EVENTS = [
    ("received", EventKind.IMPORTED),
    ("set_up", EventKind.SET_UP),
    ("notified", EventKind.NOTICE_MAILED),
    ("issued", EventKind.ISSUED),
    ("returned_mail", EventKind.RETURNED_MAIL),
    ("disposed", EventKind.DISPOSED),
]


def monthly_summary(*, month: date) -> Report:
    """The twelve months ending with `month`, each with its events and the cards on hand at its end."""
    return report(unit=MONTH, month=month, on_hand=True)
