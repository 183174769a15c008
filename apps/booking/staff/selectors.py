"""Staff reads on booking: the counter's day, the bookings that need a decision, where a booking can go.

The reads that show residents' personal data on a page take the `actor` and record a `personal_data.viewed`
event (the audit middleware records writes, not reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import F, Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import CounterGroup, Person, ReminderSent, Reservation, Slot
from apps.booking.reminders.services import DAY_BEFORE, MAX_ATTEMPTS, STALE_CLAIM
from apps.booking.reservations.outbox import booking_mail_problem
from apps.security.actors import Actor
from apps.security.audit import audit_record

VIEWED = "personal_data.viewed"
# The pages that show one booking to staff (`reservation_viewed`).
MOVE, CANCEL = "move", "cancel"

# Cancelled bookings stay on the day list (staff are asked about them on the phone), greyed out by the template.
_DAY_RESERVATIONS = Reservation.objects.select_related("purpose").prefetch_related(
    Prefetch("persons", queryset=Person.objects.order_by("order"))
)
_DAY_BEFORE = Prefetch("reminders", queryset=ReminderSent.objects.filter(kind=DAY_BEFORE))

# What staff must know about a booking's day-before mail (`reminder_problem`): sending it may or may not have
# happened (the worker died mid-send; never retried, so "at most once" holds: call the resident if it matters), or
# every attempt failed.
REMINDER_UNKNOWN, REMINDER_FAILED = "unknown", "failed"


def reminder_problem(reminders: list[ReminderSent], *, now: datetime) -> str:
    """`REMINDER_UNKNOWN`, `REMINDER_FAILED` or "" for a booking's day-before reminder claims."""
    for reminder in reminders:
        if reminder.sent_at is not None:
            return ""
        if not reminder.last_error and reminder.claimed_at < now - STALE_CLAIM:
            return REMINDER_UNKNOWN
        if reminder.last_error and reminder.attempts >= MAX_ATTEMPTS:
            return REMINDER_FAILED
    return ""


@dataclass
class CounterDay:
    group: CounterGroup
    slots: list[Slot]

    @property
    def taken(self) -> int:
        return sum(s.taken for s in self.slots)

    @property
    def seats(self) -> int:
        return sum(s.seats for s in self.slots)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), TOKYO)
    return start, start + timedelta(days=1)


def counter_groups() -> QuerySet[CounterGroup]:
    return CounterGroup.objects.order_by("pk")


def day_schedule(*, day: date, counter_id: int | None = None) -> list[CounterDay]:
    """Each counter group's slots of `day` in order, each with its reservations and their persons.

    A fixed number of queries, however many slots and bookings the day has.
    """
    start, end = day_bounds(day)
    slots = (
        Slot.objects.filter(start__gte=start, start__lt=end)
        .select_related("counter_group")
        .prefetch_related(
            Prefetch(
                "reservations",
                queryset=_DAY_RESERVATIONS.prefetch_related(_DAY_BEFORE, "booking_mails").order_by(
                    "created_at"
                ),
                to_attr="day_reservations",
            )
        )
        .order_by("counter_group_id", "start")
    )
    if counter_id is not None:
        slots = slots.filter(counter_group_id=counter_id)
    days: dict[int, CounterDay] = {}
    now = timezone.now()
    for slot in slots:
        for reservation in slot.day_reservations:
            # Read by the day table (booking/staff/_day_table.html).
            reservation.reminder_problem = reminder_problem(list(reservation.reminders.all()), now=now)  # type: ignore[attr-defined]
            reservation.mail_problem = booking_mail_problem(list(reservation.booking_mails.all()), now=now)  # type: ignore[attr-defined]
        days.setdefault(slot.counter_group_id, CounterDay(group=slot.counter_group, slots=[])).slots.append(
            slot
        )
    return list(days.values())


def day_schedule_viewed(*, day: date, counter_id: int | None, actor: Actor) -> list[CounterDay]:
    """`day_schedule` as the day page (and its print) shows it to `actor`: recorded as a personal-data view."""
    schedule = day_schedule(day=day, counter_id=counter_id)
    audit_record(
        action=VIEWED,
        actor=actor,
        target=f"booking:day:{day:%Y-%m-%d}",
        summary=_("当日の予約一覧"),
    )
    return schedule


def affected_reservations(*, actor: Actor) -> list[Reservation]:
    """Booked reservations in frames the rules no longer produce: staff move them or cancel them. Shown to
    `actor`: recorded as a personal-data view."""
    reservations = list(
        _DAY_RESERVATIONS.filter(status=Reservation.Status.BOOKED, slot__in_rules=False)
        .select_related("slot__counter_group")
        .order_by("slot__start", "pk")
    )
    audit_record(
        action=VIEWED,
        actor=actor,
        target="booking:affected",
        summary=_("要対応の予約（%(count)d件）") % {"count": len(reservations)},
    )
    return reservations


def reservation_viewed(reservation: Reservation, *, page: str, actor: Actor) -> Reservation:
    """Records that `actor` is shown `reservation` (its persons) on the move (MOVE) or cancel (CANCEL) page."""
    summaries = {MOVE: _("予約の移動"), CANCEL: _("予約の取消")}
    audit_record(action=VIEWED, actor=actor, target=f"Reservation:{reservation.pk}", summary=summaries[page])
    return reservation


def move_targets(*, reservation: Reservation, now: datetime, limit: int = 60) -> QuerySet[Slot]:
    """Future open frames of the booking's counter with room for all its seats (staff seats included)."""
    return (
        Slot.objects.filter(
            counter_group_id=reservation.purpose.counter_group_id,
            start__gt=now,
            blocked=False,
            in_rules=True,
            seats__gte=F("taken") + reservation.seats,
        )
        .exclude(pk=reservation.slot_id)
        .order_by("start")[:limit]
    )
