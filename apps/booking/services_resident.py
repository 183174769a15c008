"""Resident-side booking writes and look-ups: move a booking, find it again, signed manage links, rate limits."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings as django_settings
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from apps.booking.availability import availability_changed
from apps.booking.models import Reservation, Slot
from apps.booking.services import BookingError, OutsideWindowError, SlotFullError, settings_ensure

# --- Signed manage links ------------------------------------------------------------------------------------------
MANAGE_SALT = "booking.manage"


def manage_token(reservation: Reservation) -> str:
    """The signed part of /book/manage/<token>/: the booking code and the slot's start (it expires after that)."""
    return signing.dumps(
        {"c": reservation.code, "u": int(reservation.slot.start.timestamp())}, salt=MANAGE_SALT, compress=True
    )


def manage_token_read(token: str, *, now: datetime) -> Reservation | None:
    """The reservation a manage link names, or None when the link is forged, altered or past the visit."""
    try:
        data = signing.loads(token, salt=MANAGE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or now.timestamp() > float(data.get("u", 0)):
        return None
    return (
        Reservation.objects.select_related("slot__counter_group", "purpose")
        .prefetch_related("persons")
        .filter(code=str(data.get("c", "")))
        .first()
    )


def reservation_find(*, code: str, birth_date: date) -> Reservation | None:
    """A booking by its code and the birth date of one of its persons (None for either being wrong)."""
    return (
        Reservation.objects.select_related("slot")
        .filter(code=code, persons__birth_date=birth_date)
        .distinct()
        .first()
    )


# --- Email first (BookingSettings.confirm_email_first) ------------------------------------------------------------
EMAIL_FIRST_SALT = "booking.email_first"
EMAIL_FIRST_MAX_AGE = 30 * 60  # seconds: the link opens the form for half an hour


def email_link_token(*, slot_id: int, purpose_id: int, persons: int, email: str) -> str:
    """The signed part of /book/start/<token>/: the chosen time and the address that received it."""
    return signing.dumps(
        {"s": slot_id, "p": purpose_id, "n": persons, "e": email}, salt=EMAIL_FIRST_SALT, compress=True
    )


def email_link_read(token: str) -> dict[str, int | str] | None:
    """The choice an email-first link carries, or None when it is forged, altered or older than 30 minutes."""
    try:
        data = signing.loads(token, salt=EMAIL_FIRST_SALT, max_age=EMAIL_FIRST_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired is a BadSignature
        return None
    if not isinstance(data, dict):
        return None
    try:
        return {
            "slot": int(data["s"]),
            "purpose": int(data["p"]),
            "persons": int(data["n"]),
            "email": str(data["e"]),
        }
    except (KeyError, TypeError, ValueError):
        return None


# --- Rate limits (shared cache; keys are tenant-prefixed) ----------------------------------------------------------
def _limit(name: str, default: tuple[int, int]) -> tuple[int, int]:
    limits: dict[str, tuple[int, int]] = getattr(django_settings, "BOOKING_RATE_LIMITS", {})
    return limits.get(name, default)


RATE_LIMITS: dict[str, tuple[int, int]] = {
    # name: (attempts, window in seconds)
    "hold_ip": (30, 10 * 60),
    "confirm_ip": (20, 10 * 60),
    "notice": (10, 60 * 60),
    "notice_fail_ip": (10, 60 * 60),  # refused notice number + date of birth pairs per address
    "lookup_ip": (10, 10 * 60),
    "email_link_ip": (10, 10 * 60),
    "email_link_address": (3, 10 * 60),
}


def _rate_key(name: str, subject: str) -> str:
    return f"booking:rate:{name}:{subject}"


def rate_exhausted(name: str, subject: str) -> bool:
    """True when `subject` has used up the attempts of `name`, without counting one: for limits that count only
    failures, asked before the attempt (the failure is then counted with `rate_limited`)."""
    if not subject:
        return False
    attempts, _window = _limit(name, RATE_LIMITS[name])
    return int(cache.get(_rate_key(name, subject)) or 0) >= attempts


def rate_limited(name: str, subject: str) -> bool:
    """Count one attempt of `name` by `subject` (an address, a notice number); True once over the limit."""
    if not subject:
        return False
    attempts, window = _limit(name, RATE_LIMITS[name])
    key = _rate_key(name, subject)
    cache.add(key, 0, window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window)
        count = 1
    return count > attempts


# --- Moving a booking ---------------------------------------------------------------------------------------------
def reservation_move(*, reservation_id: int, new_slot_id: int, now: datetime) -> Reservation:
    """Move a resident's booking to another slot of the same purpose, keeping its code.

    Both slots are locked in id order (two moves in opposite directions cannot deadlock); the new slot must have
    the seats for residents, and both the old visit and the new one must be before the change deadline.
    """
    city = settings_ensure()
    deadline = timedelta(hours=city.change_deadline_hours)
    with transaction.atomic():
        reservation = (
            Reservation.objects.select_for_update(of=("self",))
            .select_related("purpose")
            .get(pk=reservation_id)
        )
        if reservation.status != Reservation.Status.BOOKED:
            raise BookingError(_("この予約はすでに取り消されています。"))
        if reservation.slot_id == new_slot_id:
            return reservation
        locked = {
            s.pk: s
            for s in Slot.objects.select_for_update()
            .filter(pk__in=[reservation.slot_id, new_slot_id])
            .order_by("pk")
        }
        old, new = locked[reservation.slot_id], locked.get(new_slot_id)
        if old.start - now < deadline:
            raise OutsideWindowError(_("変更・取消の受付期限を過ぎています。窓口にお電話ください。"))
        if new is None or new.blocked or new.counter_group_id != reservation.purpose.counter_group_id:
            raise SlotFullError(_("この時間は予約できません。ほかの時間を選んでください。"))
        if new.start - now < max(deadline, timedelta(hours=city.closes_hours_before)):
            raise OutsideWindowError(_("この時間の予約受付は終了しました。ほかの時間を選んでください。"))
        if new.start - now > timedelta(days=city.opens_days_ahead + 1):
            raise OutsideWindowError(_("この日はまだ予約を受け付けていません。"))
        if new.free_for_residents < reservation.seats:
            raise SlotFullError(
                _("申し訳ありません。この時間はちょうど満席になりました。ほかの時間を選んでください。")
            )
        Slot.objects.filter(pk=old.pk).update(taken=F("taken") - reservation.seats)
        Slot.objects.filter(pk=new.pk).update(taken=F("taken") + reservation.seats)
        reservation.slot = new
        reservation.save(update_fields=["slot", "updated_at"])
        availability_changed(old)
        availability_changed(new)
    return reservation
