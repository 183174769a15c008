"""Reservation work for the worker: booking mails (sent in the city's schema, which tenant-schemas-celery carries;
ids only) and, fanned out to every city from beat, the booking mails' scan and the release of expired holds."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from apps.booking.reservations.mail import send_reservation_mail
from apps.booking.reservations.outbox import booking_mail_send, booking_mails_send_due
from apps.booking.reservations.services import holds_release_expired
from tenants.fanout import for_each_city

# Names pinned to where the tasks were defined before the feature packages: beat and queued messages use them.


@shared_task(name="apps.booking.reservations.tasks.send_booking_mail")
def send_booking_mail(mail_id: int) -> str:
    """One outbox row (apps.booking.reservations.outbox). No Celery retries: a failure is recorded on the row and
    the scan below retries it, so there is one retry path whatever sent it first."""
    return booking_mail_send(mail_id)


@shared_task(name="apps.booking.reservations.tasks.send_booking_mails")
def send_booking_mails() -> dict[str, int]:
    return booking_mails_send_due(now=timezone.now())


@shared_task(name="apps.booking.reservations.tasks.send_booking_mails_everywhere")
def send_booking_mails_everywhere() -> int:
    return for_each_city(send_booking_mails)


@shared_task(
    name="apps.booking.tasks_mail.send_reservation_mail_task",
    autoretry_for=(OSError,),
    retry_backoff=30,
    max_retries=5,
)
def send_reservation_mail_task(reservation_id: int, kind: str, base_url: str = "") -> bool:
    """Messages queued before the outbox (no row to claim): sent as before. Nothing queues this any more; remove
    it one release after the outbox."""
    return send_reservation_mail(reservation_id, kind, base_url)


@shared_task(name="apps.booking.tasks.release_holds")
def release_holds() -> int:
    return holds_release_expired(now=timezone.now())


@shared_task(name="apps.booking.tasks.release_holds_everywhere")
def release_holds_everywhere() -> int:
    return for_each_city(release_holds)
