"""Booking mails exactly once, through an outbox (apps.booking.models_outbox.BookingMail), as reminders do.

1. `booking_mail_add`, inside the booking's transaction: one row per mail. The booking and its mail row commit
   together or not at all.
2. After the commit (`booking_mail_dispatch`): the row's id goes to the worker; with the broker away the request
   sends it itself (base/tasks.py `enqueue`'s fallback). Either way through `booking_mail_send`.
3. `booking_mail_send` claims the row first (SELECT ... FOR UPDATE SKIP LOCKED of an unclaimed row, then
   `claimed_at`), so of a worker, a request, a redelivered message and the scan only one ever sends it; then
   `sent_at`. A failure records `last_error`, and the scan tries again, up to MAX_ATTEMPTS.
4. `booking_mails_send_due`, every minute from beat: rows still unclaimed UNCLAIMED_AFTER after they were written
   (the broker took the message and lost it: Redis here keeps nothing on disk) and failed rows with attempts
   left.

A claim that never finished (no error, no `sent_at`: the sender died mid-send) may have sent the mail: it is never
sent again automatically ("at most once"), and after STALE_CLAIM `booking_mails_unknown` lists it for staff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.booking.models import BookingMail, Reservation
from apps.booking.reservations.mail import KINDS, send_reservation_mail

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# The worker sends within seconds; a row unclaimed this long after its commit lost its message. A late message
# that arrives after the scan sent the mail finds the row claimed and sends nothing.
UNCLAIMED_AFTER = timedelta(minutes=1)
# A send takes seconds (the mail server's timeout is well under this): claimed this long without an outcome, the
# sender died.
STALE_CLAIM = timedelta(minutes=10)
SENT, FAILED, SKIPPED = "sent", "failed", "skipped"
# What staff must know about a booking's mails (`booking_mail_problem`), as for reminders: one may or may not have
# left (the sender died mid-send; never resent), or every attempt failed.
MAIL_UNKNOWN, MAIL_FAILED = "unknown", "failed"


def retry_after(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: 1, 2, 4, 8 minutes (a mail server back within a quarter of an
    hour still gets the mail out; then the row is left for staff)."""
    return timedelta(minutes=2 ** max(0, attempts - 1))


Sender = Callable[[int, str, str], bool]  # send_reservation_mail's signature


def booking_mail_add(reservation_id: int, kind: str, base_url: str = "") -> int | None:
    """Write the mail's row in the caller's transaction; its id, or None when there is nobody to tell (no email)."""
    if kind not in KINDS:
        raise ValueError(f"unknown booking mail kind {kind!r}")
    if not Reservation.objects.filter(pk=reservation_id).exclude(email="").exists():
        return None
    return BookingMail.objects.create(reservation_id=reservation_id, kind=kind, base_url=base_url[:200]).pk


def booking_mail_dispatch(mail_id: int) -> None:
    """After the commit: hand the row to the worker, or send it here when the broker is down (or in sync mode:
    tests and a server without a worker, `settings.BOOKING_MAIL_SYNC`)."""
    if getattr(settings, "BOOKING_MAIL_SYNC", False):
        booking_mail_send(mail_id)
        return
    from apps.booking.reservations.tasks import send_booking_mail
    from base.tasks import enqueue

    enqueue(send_booking_mail, mail_id, fallback=lambda: booking_mail_send(mail_id))


def _retryable() -> Q:
    return ~Q(last_error="") & Q(attempts__lt=MAX_ATTEMPTS)


def _claim(mail_id: int, now: datetime) -> BookingMail | None:
    """Take the row if nobody has it: unclaimed, or failed with attempts left. None otherwise (another sender holds
    or held it, it was sent, or its attempts are spent)."""
    with transaction.atomic():
        row = (
            BookingMail.objects.select_for_update(skip_locked=True)
            .filter(Q(claimed_at__isnull=True) | _retryable(), pk=mail_id, sent_at__isnull=True)
            .first()
        )
        if row is None:
            return None
        row.claimed_at = now
        row.attempts += 1
        row.last_error = ""
        row.save(update_fields=["claimed_at", "attempts", "last_error"])
        return row


def booking_mail_send(mail_id: int, *, send: Sender = send_reservation_mail) -> str:
    """Claim and send one booking mail (in the current schema): SENT, FAILED (recorded for a retry) or SKIPPED."""
    row = _claim(mail_id, timezone.now())
    if row is None:
        return SKIPPED
    try:
        send(row.reservation_id, row.kind, row.base_url)
    except Exception as exc:  # any failure of the mail system: recorded, retried by the scan
        BookingMail.objects.filter(pk=row.pk).update(
            last_error=f"{type(exc).__name__}: {exc}"[:300] or "error"
        )
        logger.warning("booking mail %s (%s) failed, attempt %s: %s", row.pk, row.kind, row.attempts, exc)
        return FAILED
    # A reservation without an email by now (staff removed it) sends nothing: done all the same.
    BookingMail.objects.filter(pk=row.pk).update(sent_at=timezone.now())
    return SENT


def booking_mails_send_due(*, now: datetime, send: Sender = send_reservation_mail) -> dict[str, int]:
    """The periodic scan: send the rows whose message was lost and retry the failed ones, oldest first."""
    lost = BookingMail.objects.filter(
        sent_at__isnull=True, claimed_at__isnull=True, created_at__lt=now - UNCLAIMED_AFTER
    ).order_by("created_at")
    failed = BookingMail.objects.filter(_retryable(), sent_at__isnull=True).order_by("created_at")
    retries = [
        pk
        for pk, claimed_at, attempts in failed.values_list("pk", "claimed_at", "attempts")
        if claimed_at is None or claimed_at <= now - retry_after(attempts)
    ]
    outcomes = {SENT: 0, FAILED: 0, SKIPPED: 0}
    for mail_id in [*lost.values_list("pk", flat=True), *retries]:
        outcomes[booking_mail_send(mail_id, send=send)] += 1
    unknown = _unknown(now).count()
    return {"sent": outcomes[SENT], "failed": outcomes[FAILED], "unknown": unknown}


def booking_mails_unknown(*, now: datetime) -> list[BookingMail]:
    """Claims that never finished (the sender died while sending): the mail may or may not have left. Staff decide
    whether to call the resident; nothing resends them."""
    return list(_unknown(now).order_by("claimed_at"))


def _unknown(now: datetime) -> QuerySet[BookingMail]:
    return BookingMail.objects.filter(sent_at__isnull=True, last_error="", claimed_at__lt=now - STALE_CLAIM)


def booking_mails_failed() -> list[BookingMail]:
    """Mails whose every attempt failed (the address bounced at the server, the mail server refused): for staff."""
    return list(
        BookingMail.objects.filter(sent_at__isnull=True, attempts__gte=MAX_ATTEMPTS)
        .exclude(last_error="")
        .order_by("created_at")
    )


def booking_mail_problem(mails: list[BookingMail], *, now: datetime) -> str:
    """`MAIL_UNKNOWN`, `MAIL_FAILED` or "" for one booking's mail rows (prefetched by the staff day view)."""
    problems = set()
    for row in mails:
        if row.sent_at is not None:
            continue
        if not row.last_error and row.claimed_at is not None and row.claimed_at < now - STALE_CLAIM:
            problems.add(MAIL_UNKNOWN)
        elif row.last_error and row.attempts >= MAX_ATTEMPTS:
            problems.add(MAIL_FAILED)
    return MAIL_UNKNOWN if MAIL_UNKNOWN in problems else MAIL_FAILED if problems else ""
