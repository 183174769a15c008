"""Booking writes: holds and reservations (the defaults and the slot sync are in calendar.services). Each service is one transaction.

The overbooking guard is the slot row: every change of `taken` happens under `SELECT ... FOR UPDATE` of that row,
and the database's CHECK (taken <= seats) refuses anything that would slip past.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings as django_settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from apps.booking import hooks
from apps.booking.calendar.availability import availability_changed
from apps.booking.calendar.services import settings_ensure
from apps.booking.errors import (
    BookingError,
    HoldLimitError,
    NoticeRefusedError,
    OutsideWindowError,
    SlotFullError,
)
from apps.booking.models import (
    BookingSettings,
    Hold,
    Person,
    Purpose,
    Reservation,
    Slot,
)
from apps.booking.reservations import mail
from apps.security.actors import Actor
from apps.security.network import address_buckets
from apps.security.roles import WORK_COUNTER
from base.japanese import kana_key
from tenants.db import current_schema


def lock_slot(slot_id: int) -> Slot:
    return Slot.objects.select_for_update(of=("self",)).select_related("counter_group").get(pk=slot_id)


def before_change_deadline(start: datetime, now: datetime, settings: BookingSettings) -> bool:
    """True while a resident may still change or cancel a visit starting at `start` (the city's deadline)."""
    return start - now >= timedelta(hours=settings.change_deadline_hours)


def _check_window(slot: Slot, settings: BookingSettings, now: datetime) -> None:
    if slot.start - now < timedelta(hours=settings.closes_hours_before):
        raise OutsideWindowError(_("この時間の予約受付は終了しました。ほかの時間を選んでください。"))
    if slot.start - now > timedelta(days=settings.opens_days_ahead + 1):
        raise OutsideWindowError(_("この日はまだ予約を受け付けていません。"))


# Caps on active (unexpired) holds, so that nobody can make a day look full by holding seats without booking:
# one address held 30 holds x 4 persons before. A session may hold a few (two tabs and a change of mind within
# the hold's minutes); an address is a carrier's NAT for many residents, so its cap is generous, and an IPv6 /56
# gets ADDRESS_SITE_FACTOR times a /64's. The address caps are multiplied by BOOKING_ADDRESS_LIMIT_FACTOR
# (benchmarks only). A script that drops its cookies gets a new session each time and meets the address cap.
HOLDS_PER_SESSION = 3
HOLDS_PER_ADDRESS = 20
# A /56 is a whole site (up to 256 /64 networks, e.g. a company or a dormitory): 4 times a /64's allowance, so
# rotating through the /64s of one /56 buys 4 /64s' worth, not 256. Used by the rate limits too.
ADDRESS_SITE_FACTOR = 4
HOLD_CAP_LOCK = 7_100_020  # first key of the two-int advisory lock that serialises one holder's cap check


@dataclass(frozen=True)
class HoldClient:
    """Who asks for a hold on the residents' pages: their session key and client address."""

    session_key: str
    address: str


def address_limit_factor() -> int:
    """settings.BOOKING_ADDRESS_LIMIT_FACTOR: 1, or more for benchmarks and load tests only
    (MADOGUCHI_BENCH_LIMITS, refused in secure mode), whose clients all come from 127.0.0.1."""
    return max(1, int(getattr(django_settings, "BOOKING_ADDRESS_LIMIT_FACTOR", 1) or 1))


def _hold_caps(client: HoldClient) -> list[tuple[str, str, int]]:
    """(field, value, cap) of each unit the client's holds are counted in."""
    factor = address_limit_factor()
    caps = [("session_key", client.session_key, HOLDS_PER_SESSION)] if client.session_key else []
    for bucket in address_buckets(client.address):
        if bucket.endswith("/56"):
            caps.append(("client_site", bucket, HOLDS_PER_ADDRESS * ADDRESS_SITE_FACTOR * factor))
        else:
            caps.append(("client_net", bucket, HOLDS_PER_ADDRESS * factor))
    return caps


def _check_hold_caps(caps: list[tuple[str, str, int]], now: datetime) -> None:
    """Refuse a hold over any cap. Inside the hold's transaction, under an advisory lock per unit (taken in one
    order, before the slot's row lock), so parallel requests of one session cannot each see room for one more."""
    with connection.cursor() as cursor:
        for field_name, value, _cap in sorted(caps):
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                [HOLD_CAP_LOCK, f"{current_schema()}:{field_name}:{value}"],
            )
    for field_name, value, cap in caps:
        active = Hold.objects.filter(**{field_name: value, "expires_at__gt": now})
        if active.count() >= cap:
            first_end = active.order_by("expires_at").values_list("expires_at", flat=True).first()
            wait = max(1, int((first_end - now).total_seconds())) if first_end else 60
            if field_name == "session_key":
                message = _(
                    "ほかの画面で確保中の時間があるため、これ以上時間を確保できません。"
                    "確保中の画面で予約を済ませるか、%(minutes)d分ほどしてからもう一度お試しください。"
                )
            else:
                message = _(
                    "同じ接続元から多くの時間が確保されているため、今は確保できません。"
                    "%(minutes)d分ほどしてからもう一度お試しください。"
                )
            raise HoldLimitError(message % {"minutes": (wait + 59) // 60}, retry_after=wait)


def hold_create(
    *, slot_id: int, purpose_id: int, persons: int, now: datetime, client: HoldClient | None = None
) -> Hold:
    """Keep seats for a resident filling in the form. Raises SlotFullError if they were just taken, and
    HoldLimitError when `client` (the resident's session and address; None for staff and code) holds its cap."""
    settings = settings_ensure()
    purpose = Purpose.objects.get(pk=purpose_id, active=True)
    if not 1 <= persons <= settings.max_persons:
        raise BookingError(_("一度に予約できるのは%(max)d人までです。") % {"max": settings.max_persons})
    seats = persons * purpose.seats_per_person
    caps = _hold_caps(client) if client is not None else []
    with transaction.atomic():
        if caps:
            _check_hold_caps(caps, now)
        slot = lock_slot(slot_id)
        if slot.counter_group_id != purpose.counter_group_id or slot.blocked:
            raise SlotFullError(_("この時間は予約できません。ほかの時間を選んでください。"))
        _check_window(slot, settings, now)
        if slot.free_for_residents < seats:
            raise SlotFullError(
                _("申し訳ありません。この時間はちょうど満席になりました。ほかの時間を選んでください。")
            )
        Slot.objects.filter(pk=slot.pk).update(taken=F("taken") + seats)
        availability_changed(slot)
        return Hold.objects.create(
            token=uuid.uuid4(),
            slot=slot,
            purpose=purpose,
            persons=persons,
            seats=seats,
            expires_at=now + timedelta(minutes=settings.hold_minutes),
            **{field_name: value for field_name, value, _cap in caps},
        )


def holds_release_expired(*, now: datetime) -> int:
    """Give back the seats of holds whose time ran out (periodic task). Returns how many holds were released."""
    released = 0
    for hold_id in list(Hold.objects.filter(expires_at__lte=now).values_list("pk", flat=True)):
        with transaction.atomic():
            hold = (
                Hold.objects.select_for_update(skip_locked=True)
                .filter(pk=hold_id, expires_at__lte=now)
                .first()
            )
            if hold is None:
                continue  # confirmed or released meanwhile
            lock_slot(hold.slot_id)
            Slot.objects.filter(pk=hold.slot_id).update(taken=F("taken") - hold.seats)
            availability_changed(hold.slot)
            hold.delete()
            released += 1
    return released


@dataclass(frozen=True)
class PersonInput:
    name: str
    birth_date: date
    kana: str = ""
    notice_number: str = ""


def persons_create(reservation: Reservation, persons: list[PersonInput]) -> None:
    Person.objects.bulk_create(
        Person(
            reservation=reservation,
            name=p.name,
            kana=p.kana,
            birth_date=p.birth_date,
            notice_number=p.notice_number,
            kana_key=kana_key(p.kana or p.name),
            order=index,
        )
        for index, p in enumerate(persons)
    )


_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone


def new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


def check_persons(
    persons: list[PersonInput], purpose: Purpose, settings: BookingSettings, now: datetime
) -> None:
    for person in persons:
        if purpose.requires_notice_number:
            if not person.notice_number:
                raise BookingError(_("交付通知書の番号を入力してください。"))
            problem = hooks.check_notice(
                hooks.NoticeCheck(person.notice_number, person.birth_date, purpose.code)
            )
            if problem:
                raise NoticeRefusedError(problem, notice_number=person.notice_number)
        future = Person.objects.filter(
            birth_date=person.birth_date,
            kana_key=kana_key(person.kana or person.name),
            reservation__purpose=purpose,
            reservation__status=Reservation.Status.BOOKED,
            reservation__slot__start__gt=now,
        ).count()
        if future >= settings.max_future_bookings:
            raise BookingError(
                _("同じ方の同じ用件の予約がすでにあります。予約の変更は予約確認メールのリンクから行えます。")
            )


def reservation_confirm(
    *,
    hold_token: uuid.UUID,
    persons: list[PersonInput],
    email: str,
    phone: str,
    submission_key: uuid.UUID,
    now: datetime,
    language: str = "ja",
    actor: Actor | None = None,
    base_url: str = "",
) -> Reservation:
    """Turn a hold into a booking. A resubmission with the same key returns the first booking unchanged
    and queues no mail: only the call that made the booking queues its confirmation mail (a double click sends
    one). `actor` is the resident (with their address); None for code that books without a visitor. `base_url` is
    the address the resident booked at, for the mail's links ("": the city's primary address)."""
    existing = Reservation.objects.filter(submission_key=submission_key).first()
    if existing is not None:
        return existing
    settings = settings_ensure()
    with transaction.atomic():
        hold = (
            Hold.objects.select_for_update(of=("self",))
            .select_related("purpose")
            .filter(token=hold_token)
            .first()
        )
        if hold is None:
            again = Reservation.objects.filter(submission_key=submission_key).first()
            if again is not None:
                return again
            raise SlotFullError(
                _("入力時間が過ぎたため、確保していた枠を解放しました。もう一度時間を選んでください。")
            )
        if len(persons) != hold.persons:
            raise BookingError(_("人数が変わっています。もう一度時間を選んでください。"))
        slot = lock_slot(hold.slot_id)
        check_persons(persons, hold.purpose, settings, now)
        try:
            with transaction.atomic():
                reservation = Reservation.objects.create(
                    code=new_code(),
                    slot=slot,
                    purpose=hold.purpose,
                    seats=hold.seats,
                    email=email,
                    phone=phone,
                    submission_key=submission_key,
                    language=language,
                )
        except IntegrityError:  # the same form, submitted twice at once: the other request made it
            return Reservation.objects.get(submission_key=submission_key)
        persons_create(reservation, persons)
        hold.delete()  # its seats now belong to the reservation
        hooks.send(hooks.reservation_booked, reservation=reservation, actor=actor)
        mail.send_after_commit(reservation.pk, mail.BOOKED, base_url)
    return reservation


def reservation_cancel(
    *, reservation_id: int, now: datetime, actor: Actor, base_url: str = ""
) -> Reservation:
    """Cancel, give the seats back and queue the cancellation mail. A resident may cancel only until the city's
    deadline; counter staff (`WORK_COUNTER`) at any time.

    `actor` (the resident or the staff member) is passed on to the `reservation_cancelled` receivers; `base_url`
    is the address the resident used, for the mail's links ("": the city's primary address)."""
    settings = settings_ensure()
    with transaction.atomic():
        reservation = Reservation.objects.select_for_update().get(pk=reservation_id)
        if reservation.status != Reservation.Status.BOOKED:
            return reservation
        slot = lock_slot(reservation.slot_id)
        if not actor.has_perm(WORK_COUNTER) and not before_change_deadline(slot.start, now, settings):
            raise OutsideWindowError(_("変更・取消の受付期限を過ぎています。窓口にお電話ください。"))
        Slot.objects.filter(pk=slot.pk).update(taken=F("taken") - reservation.seats)
        availability_changed(slot)
        reservation.status = Reservation.Status.CANCELLED
        reservation.cancelled_at = now
        reservation.save(update_fields=["status", "cancelled_at", "updated_at"])
        hooks.send(hooks.reservation_cancelled, reservation=reservation, actor=actor)
        # The mail's outbox row commits with the cancellation (none without an email: nobody to tell).
        mail.send_after_commit(reservation.pk, mail.CANCELLED, base_url)
    return reservation
