"""Resident-side booking writes and look-ups: move a booking, find it again, signed manage links, rate limits."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings as django_settings
from django.contrib.sessions.backends.base import SessionBase
from django.core import signing
from django.db import DatabaseError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils.translation import gettext as _

from apps.booking.calendar.availability import availability_changed
from apps.booking.calendar.hours import TOKYO
from apps.booking.calendar.services import settings_ensure
from apps.booking.errors import BookingError, OutsideWindowError, SlotFullError
from apps.booking.models import Reservation, Slot
from apps.booking.reservations import mail
from apps.booking.reservations.selectors import city_base_url
from apps.booking.reservations.services import (
    ADDRESS_SITE_FACTOR,
    address_limit_factor,
    before_change_deadline,
)
from apps.security.counters import counter_clear, counter_hit, counter_peek
from apps.security.counters import subject as counter_subject
from apps.security.network import address_buckets
from tenants.db import current_schema

logger = logging.getLogger(__name__)

# --- A notice letter's short link -------------------------------------------------------------------------------
# The notice number a notice letter's short link carried, kept for the next booking form of this browser.
NOTICE_PREFILL_SESSION_KEY = "booking_notice_prefill"


def notice_prefill_remember(session: SessionBase, notice_number: str) -> None:
    """Fill the first person's notice number in the next booking form of this browser (the short link of a
    notice letter, `/n/<number>`); the number is not checked here: the form's check gives the one answer."""
    session[NOTICE_PREFILL_SESSION_KEY] = notice_number


# --- Signed manage links ------------------------------------------------------------------------------------------
# Salted with the city's schema, so a link made at one city never verifies at another (the same booking code may
# exist at both). Links mailed before the per-city salt carry the old constant salt: they are accepted until
# settings.BOOKING_LEGACY_TOKEN_UNTIL, and only for a visit (`u`) before it, so none is stranded and none outlives
# its visit (docs/booking.md, "Signed links").
LEGACY_MANAGE_SALT = "booking.manage"


def _city_salt(purpose: str) -> str:
    return f"{purpose}:{current_schema()}"


def _legacy_until() -> float:
    """The end of the old salt (a timestamp; 0 when the setting is empty: old links are refused)."""
    text = getattr(django_settings, "BOOKING_LEGACY_TOKEN_UNTIL", "") or ""
    if not text:
        return 0.0
    until = date.fromisoformat(str(text))
    return datetime.combine(until, datetime.min.time(), tzinfo=TOKYO).timestamp()


def manage_token(reservation: Reservation) -> str:
    """The signed part of /book/manage/<token>/: the booking code and the slot's start (it expires after that)."""
    return signing.dumps(
        {"c": reservation.code, "u": int(reservation.slot.start.timestamp())},
        salt=_city_salt(LEGACY_MANAGE_SALT),
        compress=True,
    )


def _manage_data(token: str) -> dict[str, Any] | None:
    try:
        data = signing.loads(token, salt=_city_salt(LEGACY_MANAGE_SALT))
    except signing.BadSignature:
        try:
            data = signing.loads(token, salt=LEGACY_MANAGE_SALT)
        except signing.BadSignature:
            return None
        # A link mailed before the per-city salt: only for a visit before the cut-over.
        if not isinstance(data, dict) or float(data.get("u", 0)) >= _legacy_until():
            return None
    return data if isinstance(data, dict) else None


def manage_token_read(token: str, *, now: datetime) -> Reservation | None:
    """The reservation a manage link names, or None when the link is forged, altered, of another city or past
    the visit."""
    data = _manage_data(token)
    if data is None or now.timestamp() > float(data.get("u", 0)):
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
# Per-city salt too. The old constant salt is not accepted at all: these links live 30 minutes, and a resident
# whose link was mailed just before the deploy is told the link is no longer valid and asks for another.
EMAIL_FIRST_SALT = "booking.email_first"
EMAIL_FIRST_MAX_AGE = 30 * 60  # seconds: the link opens the form for half an hour


def email_link_token(*, slot_id: int, purpose_id: int, persons: int, email: str) -> str:
    """The signed part of /book/start/<token>/: the chosen time and the address that received it."""
    return signing.dumps(
        {"s": slot_id, "p": purpose_id, "n": persons, "e": email},
        salt=_city_salt(EMAIL_FIRST_SALT),
        compress=True,
    )


def email_link_send(
    *, slot_id: int, purpose_id: int, persons: int, email: str, language: str, base_url: str = ""
) -> None:
    """Mail the email-first link for this choice (no seats are held yet; the link opens the form and holds them).

    Sent at once: nothing is written, so there is no transaction to wait for. `base_url` is the address the
    resident asked at ("": the city's primary address)."""
    token = email_link_token(slot_id=slot_id, purpose_id=purpose_id, persons=persons, email=email)
    url = (base_url or city_base_url()).rstrip("/") + reverse("booking:email_start", kwargs={"token": token})
    mail.send_email_link(email=email, url=url, language=language)


def email_link_read(token: str) -> dict[str, int | str] | None:
    """The choice an email-first link carries, or None when it is forged, altered, of another city or older than
    30 minutes."""
    try:
        data = signing.loads(token, salt=_city_salt(EMAIL_FIRST_SALT), max_age=EMAIL_FIRST_MAX_AGE)
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


# --- Rate limits (apps.security.counters: atomic, never culled; they fail open) ------------------------------------
# Residents come in crowds behind one address: a Japanese mobile carrier puts many phones behind one IPv4 address
# (carrier-grade NAT) during a slot-release rush. So the limits that stop a guesser are per session, per booking
# code and per notice number; the per-address limits are generous backstops against one machine opening
# sessions without end. If the counter store fails, residents are not limited (fail_closed=False).
RATE_LIMITS: dict[str, tuple[int, int]] = {
    # name: (attempts, window in seconds)
    # Per address bucket (ADDRESS_LIMITS), times BOOKING_ADDRESS_LIMIT_FACTOR (benchmarks only).
    # 300 holds or confirmations in 10 minutes is one every two seconds from one carrier address: a rush.
    "hold_ip": (300, 10 * 60),  # holds and time changes
    "confirm_ip": (300, 10 * 60),  # form submissions
    "notice_fail_ip": (60, 60 * 60),  # refused notice number + date of birth pairs
    "lookup_ip": (100, 10 * 60),  # /book/find/ submissions
    "email_link_ip": (60, 10 * 60),  # email-first link requests
    # Per session: one resident's browser. Tight; a script that drops its cookies meets the address limits.
    "hold_session": (10, 10 * 60),
    "confirm_session": (20, 10 * 60),  # a resident correcting the form a few times
    "lookup_session": (10, 10 * 60),
    "email_link_session": (5, 10 * 60),
    # Per subject.
    "email_link_address": (3, 10 * 60),  # mails to one address
}
# Counted per address bucket: an IPv4 address, an IPv6 /64, and the /56 at ADDRESS_SITE_FACTOR times the limit.
ADDRESS_LIMITS = frozenset({"hold_ip", "confirm_ip", "notice_fail_ip", "lookup_ip", "email_link_ip"})


@dataclass(frozen=True)
class Refusal:
    """A limit was reached: try again in `retry_after` seconds (sent as Retry-After with the 429)."""

    retry_after: int


def _limit(name: str) -> tuple[int, int]:
    limits: dict[str, tuple[int, int]] = getattr(django_settings, "BOOKING_RATE_LIMITS", {}) or {}
    return limits.get(name, RATE_LIMITS[name])


def _rate_key(name: str, subject: str) -> str:
    return f"booking:rate:{name}:{subject}"


def rate_hit(name: str, subject: str, *, scale: int = 1) -> Refusal | None:
    """Count one attempt of `name` by `subject` (a session key, an address bucket, a hashed text); a Refusal once
    over the limit (times `scale`)."""
    if not subject:
        return None
    attempts, window = _limit(name)
    hit = counter_hit(_rate_key(name, subject), window=window, fail_closed=False)
    return Refusal(hit.retry_after) if hit.over(attempts * scale) else None


def rate_peek(name: str, subject: str, *, scale: int = 1) -> Refusal | None:
    """A Refusal when `subject` has used up the attempts of `name`, without counting one: for limits that count
    only failures, asked before the attempt (the failure is then counted with `rate_hit`)."""
    if not subject:
        return None
    attempts, _window = _limit(name)
    hit = counter_peek(_rate_key(name, subject), fail_closed=False)
    return Refusal(hit.retry_after) if hit.count >= attempts * scale else None


def _bucket_scale(bucket: str) -> int:
    site = ADDRESS_SITE_FACTOR if bucket.endswith("/56") else 1
    return site * address_limit_factor()


def address_hit(name: str, address: str) -> Refusal | None:
    """Count one attempt of `name` in every bucket of `address` (`address_buckets`); a Refusal when any is over."""
    refusals = [rate_hit(name, b, scale=_bucket_scale(b)) for b in address_buckets(address)]
    return _longest(refusals)


def address_peek(name: str, address: str) -> Refusal | None:
    refusals = [rate_peek(name, b, scale=_bucket_scale(b)) for b in address_buckets(address)]
    return _longest(refusals)


def _longest(refusals: list[Refusal | None]) -> Refusal | None:
    found = [r for r in refusals if r is not None]
    return max(found, key=lambda r: r.retry_after) if found else None


def rate_limited(name: str, subject: str) -> bool:
    """Count one attempt of `name` by `subject`; True once over the limit. Address limits count per bucket."""
    if name in ADDRESS_LIMITS:
        return address_hit(name, subject) is not None
    return rate_hit(name, subject) is not None


def rate_exhausted(name: str, subject: str) -> bool:
    """True when `subject` has used up the attempts of `name`, without counting one."""
    if name in ADDRESS_LIMITS:
        return address_peek(name, subject) is not None
    return rate_peek(name, subject) is not None


# --- Cool-downs per booking code and per notice number -----------------------------------------------------------
# A guesser who knows a booking code (or a notice number) and tries dates of birth from many addresses is not
# stopped by any per-address or per-session limit. A lock per code would be worse: anyone could lock a real
# resident out of their own booking. So after FREE failures for one code the answers for that code slow down:
# one attempt per interval, for everyone, and an attempt inside the interval gets 429 with Retry-After (nothing
# is checked, so it teaches nothing). The interval starts at FIRST seconds and doubles with each further failure
# up to LONGEST; failures are counted for WINDOW (fixed from the first one); a success clears them.
#
# The figures: after the ramp (30 + 60 + 120 + 240 s) one attempt per 5 minutes, so about 12 per hour, some 290
# per day, per code. Dates of birth over 100 years are 36,500: trying them all takes about 125 days, half of that
# on average, while a booking can be made at most 180 days ahead and is found only until its visit; an attacker
# who knows the year of birth (365 dates) needs about a day, which is why the confirmation mail's manage link
# (not /book/find/) is the resident's way in, and why the per-address and per-session limits still apply on top
# (a guesser from one address meets lookup_ip after 100 tries). The real resident waits at most LONGEST seconds
# for their turn; if an attacker keeps polling the code at the moment each interval opens, the resident may wait
# a few turns more (the manage link in the mail, or the city's phone, is never slowed).
@dataclass(frozen=True)
class CoolDown:
    free: int  # failures before answers slow down
    window: int  # seconds the failures are counted for
    first: int  # the first interval, in seconds
    longest: int  # the interval never grows beyond this


COOL_DOWNS: dict[str, CoolDown] = {
    # /book/find/, per booking code
    "lookup_code": CoolDown(free=3, window=24 * 3600, first=30, longest=5 * 60),
    # the pickup form, per notice number
    "notice": CoolDown(free=3, window=24 * 3600, first=30, longest=5 * 60),
}


def _cool_keys(name: str, subject: str) -> tuple[str, str]:
    hashed = counter_subject(subject)  # attacker-chosen text: hashed, never stored as typed
    return f"booking:cool:{name}:fail:{hashed}", f"booking:cool:{name}:turn:{hashed}"


def cool_down_wait(name: str, subject: str) -> Refusal | None:
    """Take this attempt's turn for `subject`: None when it may be checked now, else a Refusal (try later)."""
    if not subject:
        return None
    rule = COOL_DOWNS[name]
    failures_key, turn_key = _cool_keys(name, subject)
    failures = counter_peek(failures_key, fail_closed=False).count
    if failures < rule.free:
        return None
    interval = min(rule.first * 2 ** min(failures - rule.free, 16), rule.longest)
    turn = counter_hit(turn_key, window=interval, fail_closed=False)
    return Refusal(turn.retry_after) if turn.count > 1 else None


def cool_down_failed(name: str, subject: str) -> None:
    """Count a failed check for `subject` (a wrong date of birth for this code or number)."""
    if subject:
        counter_hit(_cool_keys(name, subject)[0], window=COOL_DOWNS[name].window, fail_closed=False)


def cool_down_passed(name: str, subject: str) -> None:
    """The right answer: forget the failures, so the resident's next visit is not slowed."""
    if not subject:
        return
    for key in _cool_keys(name, subject):
        try:
            counter_clear(key)
        except DatabaseError:  # fail open: a success must not turn into an error page
            logger.exception("could not clear a booking cool-down")


# --- Moving a booking ---------------------------------------------------------------------------------------------
def reservation_move(
    *, reservation_id: int, new_slot_id: int, now: datetime, base_url: str = ""
) -> Reservation:
    """Move a resident's booking to another slot of the same purpose, keeping its code, and queue the mail.

    Both slots are locked in id order (two moves in opposite directions cannot deadlock); the new slot must have
    the seats for residents, and both the old visit and the new one must be before the change deadline.
    """
    city = settings_ensure()
    with transaction.atomic():
        reservation = (
            Reservation.objects.select_for_update(of=("self",))
            .select_related("purpose")
            .get(pk=reservation_id)
        )
        if reservation.status != Reservation.Status.BOOKED:
            raise BookingError(_("この予約はすでに取り消されています。"))
        if reservation.slot_id == new_slot_id:
            mail.send_after_commit(reservation.pk, mail.CHANGED, base_url)
            return reservation
        locked = {
            s.pk: s
            for s in Slot.objects.select_for_update()
            .filter(pk__in=[reservation.slot_id, new_slot_id])
            .order_by("pk")
        }
        old, new = locked[reservation.slot_id], locked.get(new_slot_id)
        if not before_change_deadline(old.start, now, city):
            raise OutsideWindowError(_("変更・取消の受付期限を過ぎています。窓口にお電話ください。"))
        if new is None or new.blocked or new.counter_group_id != reservation.purpose.counter_group_id:
            raise SlotFullError(_("この時間は予約できません。ほかの時間を選んでください。"))
        deadline = timedelta(hours=max(city.change_deadline_hours, city.closes_hours_before))
        if new.start - now < deadline:
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
        mail.send_after_commit(reservation.pk, mail.CHANGED, base_url)
    return reservation
