"""The reminder the day before, found by a periodic scan (not a task ETA) and sent at most once.

Each (reservation, kind) gets one ReminderSent row, inserted before sending: the unique constraint is the guard,
so two scans or two workers never both send. A send that fails is recorded and retried by later scans (up to
MAX_ATTEMPTS). A claim whose worker died mid-send (no error recorded, no sent_at) is never retried automatically:
the mail may have left, and a second one would break "at most once"; such claims are listed for staff
(`reminders_unknown`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from apps.booking.calendar.hours import TOKYO
from apps.booking.content.selectors import email_text_get
from apps.booking.models import ReminderSent, Reservation

DAY_BEFORE = "day_before"
REMINDER = "reminder"  # the EmailText kind of the day-before mail
MAX_ATTEMPTS = 5
STALE_CLAIM = timedelta(minutes=30)


def compose_reminder(reservation: Reservation) -> EmailMessage:
    from apps.booking.reservations.mail import city_text, mail_context
    from apps.booking.reservations.selectors import city_base_url

    language = reservation.language or "ja"
    own = email_text_get(REMINDER, language)
    with translation.override(language):
        if own is not None:
            context = mail_context(reservation, city_base_url())
            subject, body, _html = city_text(reservation, own, language, context)
        else:
            context = {"reservation": reservation, "slot": reservation.slot, "purpose": reservation.purpose}
            subject = render_to_string("booking/email/reminder_subject.txt", context).strip()
            body = render_to_string("booking/email/reminder.txt", context)
    return EmailMessage(subject=subject, body=body, to=[reservation.email])


def _due(now: datetime) -> list[int]:
    """Booked reservations with an email whose visit is tomorrow (Tokyo): not yet tried, or failed and retryable."""
    tomorrow = (now.astimezone(TOKYO) + timedelta(days=1)).date()
    start = datetime.combine(tomorrow, datetime.min.time(), TOKYO)
    tomorrows = Reservation.objects.filter(
        status=Reservation.Status.BOOKED, slot__start__gte=start, slot__start__lt=start + timedelta(days=1)
    ).exclude(email="")
    fresh = tomorrows.exclude(reminders__kind=DAY_BEFORE).values_list("pk", flat=True)
    retry = (
        ReminderSent.objects.filter(
            kind=DAY_BEFORE, sent_at__isnull=True, attempts__lt=MAX_ATTEMPTS, reservation__in=tomorrows
        )
        .exclude(last_error="")
        .values_list("reservation_id", flat=True)
    )
    return sorted({*fresh, *retry})


def _claim(reservation_id: int) -> ReminderSent | None:
    """Insert or take over this reservation's reminder row; None if another run has it or it is done."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                return ReminderSent.objects.create(reservation_id=reservation_id, kind=DAY_BEFORE, attempts=1)
        except IntegrityError:
            pass
        claim = (
            ReminderSent.objects.select_for_update(skip_locked=True)
            .filter(
                reservation_id=reservation_id,
                kind=DAY_BEFORE,
                sent_at__isnull=True,
                attempts__lt=MAX_ATTEMPTS,
            )
            .exclude(last_error="")
            .first()
        )
        if claim is None:
            return None
        claim.attempts += 1
        claim.last_error = ""
        claim.claimed_at = timezone.now()
        claim.save(update_fields=["attempts", "last_error", "claimed_at"])
        return claim


def reminders_send_due(
    *, now: datetime, compose: Callable[[Reservation], EmailMessage] = compose_reminder
) -> dict[str, int]:
    sent = failed = 0
    for reservation_id in _due(now):
        claim = _claim(reservation_id)
        if claim is None:
            continue
        reservation = Reservation.objects.select_related("slot__counter_group", "purpose").get(
            pk=reservation_id
        )
        try:
            compose(reservation).send()
        except Exception as exc:  # any failure of the mail system: recorded, retried by a later scan
            ReminderSent.objects.filter(pk=claim.pk).update(last_error=f"{type(exc).__name__}: {exc}"[:300])
            failed += 1
            continue
        ReminderSent.objects.filter(pk=claim.pk).update(sent_at=timezone.now())
        sent += 1
    return {"sent": sent, "failed": failed}


def reminders_unknown(*, now: datetime) -> list[ReminderSent]:
    """Claims that never finished (the worker died while sending): staff decide whether to call the resident."""
    return list(
        ReminderSent.objects.filter(sent_at__isnull=True, last_error="", claimed_at__lt=now - STALE_CLAIM)
    )
