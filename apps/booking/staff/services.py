"""Staff writes on booking: the counter's day (check-in, phone and walk-in bookings, blocked slots, extra seats) and
the bookings that rule changes orphan. The configuration of counters, purposes, hours and closures is
calendar.services.

Every write is audited inside its own transaction (the event is rolled back with the write).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from apps.booking import hooks
from apps.booking.calendar.availability import availability_changed
from apps.booking.calendar.hours import TOKYO
from apps.booking.calendar.services import settings_ensure
from apps.booking.errors import BookingError, SlotFullError
from apps.booking.models import Purpose, Reservation, Slot
from apps.booking.reservations.services import (
    PersonInput,
    check_persons,
    lock_slot,
    new_code,
    persons_create,
    reservation_cancel,
)
from apps.security.actors import Actor
from apps.security.audit import audit_record
from apps.security.roles import CONFIGURE_BOOKING, WORK_COUNTER, ensure_permission

Status = Reservation.Status


# Which status a reservation may go to from which: the counter's day moves forward only.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.BOOKED: frozenset({Status.ARRIVED, Status.NO_SHOW, Status.CANCELLED}),
    Status.ARRIVED: frozenset({Status.DONE, Status.CANCELLED}),
}


def reservation_mark(*, reservation_id: int, status: str, actor: Actor, now: datetime) -> Reservation:
    """Move a reservation along the counter's day; refuse any other move with a message for the staff member."""
    ensure_permission(actor, WORK_COUNTER)
    booking_settings = settings_ensure()
    with transaction.atomic():
        reservation = (
            Reservation.objects.select_for_update(of=("self",))
            .select_related("slot", "purpose")
            .get(pk=reservation_id)
        )
        before = reservation.status
        if status not in TRANSITIONS.get(before, frozenset()):
            raise BookingError(
                _("「%(from)s」の予約を「%(to)s」にはできません。")
                % {"from": Status(before).label, "to": Status(status).label}
            )
        if status == Status.NO_SHOW:
            grace = timedelta(minutes=booking_settings.no_show_grace_minutes)
            if now < reservation.slot.start + grace:
                raise BookingError(
                    _("不来庁にできるのは、予約時刻の%(minutes)d分後からです。")
                    % {"minutes": booking_settings.no_show_grace_minutes}
                )
        if status == Status.CANCELLED:
            if before == Status.ARRIVED:
                # reservation_cancel gives seats back only for a booked reservation: step back inside this
                # transaction so the one seat-returning path is used.
                Reservation.objects.filter(pk=reservation.pk).update(status=Status.BOOKED)
            reservation = reservation_cancel(reservation_id=reservation.pk, now=now, actor=actor)
        else:
            reservation.status = status
            reservation.save(update_fields=["status", "updated_at"])
            if status == Status.NO_SHOW:
                hooks.send(hooks.reservation_no_show, reservation=reservation, actor=actor)
        availability_changed(reservation.slot)
        audit_record(
            action=f"booking.reservation_{status}",
            actor=actor,
            target=f"Reservation:{reservation.pk}",
            summary=reservation.code,
            before={"status": before},
            after={"status": status},
        )
    return reservation


def reservation_book_by_staff(
    *,
    slot_id: int,
    purpose_id: int,
    persons: list[PersonInput],
    phone: str,
    email: str,
    channel: str,
    actor: Actor,
    now: datetime,
) -> Reservation:
    """A phone booking or a walk-in: staff seats may be used, never beyond the frame's seats.

    The only service that books into the seats kept for staff, so the permission check comes first."""
    ensure_permission(actor, WORK_COUNTER)
    if channel not in (Reservation.Channel.PHONE, Reservation.Channel.WALK_IN):
        raise BookingError(_("受付方法を選んでください。"))
    purpose = Purpose.objects.get(pk=purpose_id)
    booking_settings = settings_ensure()
    seats = len(persons) * purpose.seats_per_person
    with transaction.atomic():
        slot = lock_slot(slot_id)
        if slot.blocked:
            raise SlotFullError(_("この時間は受付を止めています。"))
        if slot.counter_group_id != purpose.counter_group_id:
            raise SlotFullError(_("この用件はこの窓口では受け付けていません。"))
        if slot.free < seats:
            raise SlotFullError(_("この時間は満席です。"))
        check_persons(persons, purpose, booking_settings, now)
        Slot.objects.filter(pk=slot.pk).update(taken=F("taken") + seats)
        reservation = Reservation.objects.create(
            code=new_code(),
            slot=slot,
            purpose=purpose,
            seats=seats,
            email=email,
            phone=phone,
            channel=channel,
        )
        persons_create(reservation, persons)
        hooks.send(hooks.reservation_booked, reservation=reservation, actor=actor)
        availability_changed(slot)
        audit_record(
            action=f"booking.reservation_{channel}",
            actor=actor,
            target=f"Reservation:{reservation.pk}",
            summary=reservation.code,
            after={"slot": slot_id, "purpose": purpose_id, "persons": len(persons), "channel": channel},
        )
    return reservation


def slot_set_blocked(*, slot_id: int, blocked: bool, actor: Actor) -> Slot:
    ensure_permission(actor, WORK_COUNTER)
    with transaction.atomic():
        slot = Slot.objects.select_for_update().get(pk=slot_id)
        if not blocked and not slot.in_rules:
            raise BookingError(_("受付時間外になった枠は再開できません。予約を移すか取り消してください。"))
        before = slot.blocked
        slot.blocked = blocked
        slot.save(update_fields=["blocked"])
        availability_changed(slot)
        audit_record(
            action="booking.slot_blocked" if blocked else "booking.slot_opened",
            actor=actor,
            target=f"Slot:{slot.pk}",
            summary=f"{slot.start.astimezone(TOKYO):%Y-%m-%d %H:%M}",
            before={"blocked": before},
            after={"blocked": blocked},
        )
    return slot


def slot_raise_seats(*, slot_id: int, seats: int, reason: str, actor: Actor) -> Slot:
    """A supervisor adds seats to one frame (more staff that day), with the reason in the audit log."""
    ensure_permission(actor, CONFIGURE_BOOKING)
    with transaction.atomic():
        slot = Slot.objects.select_for_update().get(pk=slot_id)
        if seats <= slot.seats:
            raise BookingError(_("席数は今の席数（%(seats)d）より多くしてください。") % {"seats": slot.seats})
        before = slot.seats
        slot.seats = seats
        slot.save(update_fields=["seats"])
        availability_changed(slot)
        audit_record(
            action="booking.slot_seats_raised",
            actor=actor,
            target=f"Slot:{slot.pk}",
            summary=reason,
            before={"seats": before},
            after={"seats": seats, "reason": reason},
        )
    return slot


def reservation_move_by_staff(*, reservation_id: int, slot_id: int, actor: Actor) -> Reservation:
    """Move a booking to another frame of its counter: both slots locked in id order, seats moved together."""
    ensure_permission(actor, WORK_COUNTER)
    with transaction.atomic():
        reservation = (
            Reservation.objects.select_for_update(of=("self",))
            .select_related("purpose")
            .get(pk=reservation_id)
        )
        if reservation.status != Status.BOOKED:
            raise BookingError(_("移せるのは「予約済み」の予約だけです。"))
        if reservation.slot_id == slot_id:
            raise BookingError(_("同じ時間には移せません。"))
        # Id order: two staff moving bookings between the same two slots in opposite directions cannot deadlock.
        locked = {
            s.pk: s
            for s in Slot.objects.select_for_update()
            .filter(pk__in=[reservation.slot_id, slot_id])
            .order_by("pk")
        }
        source, target = locked[reservation.slot_id], locked.get(slot_id)
        if target is None or target.counter_group_id != reservation.purpose.counter_group_id:
            raise BookingError(_("この用件はその窓口では受け付けていません。"))
        if target.blocked or not target.in_rules:
            raise SlotFullError(_("その時間は受付を止めています。"))
        if target.free < reservation.seats:
            raise SlotFullError(_("その時間は満席です。"))
        Slot.objects.filter(pk=source.pk).update(taken=F("taken") - reservation.seats)
        Slot.objects.filter(pk=target.pk).update(taken=F("taken") + reservation.seats)
        reservation.slot = target
        reservation.save(update_fields=["slot", "updated_at"])
        availability_changed(source)
        availability_changed(target)
        audit_record(
            action="booking.reservation_moved",
            actor=actor,
            target=f"Reservation:{reservation.pk}",
            summary=reservation.code,
            before={"slot": source.pk, "start": source.start},
            after={"slot": target.pk, "start": target.start},
        )
    return reservation
