"""Reservation work for the worker: booking mails (sent in the city's schema, which tenant-schemas-celery carries;
ids only) and the release of expired holds, fanned out to every city from beat."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from apps.booking.reservations.mail import send_reservation_mail
from apps.booking.reservations.services import holds_release_expired
from tenants.fanout import for_each_city

# Names pinned to where the tasks were defined before the feature packages: beat and queued messages use them.


@shared_task(
    name="apps.booking.tasks_mail.send_reservation_mail_task",
    autoretry_for=(OSError,),
    retry_backoff=30,
    max_retries=5,
)
def send_reservation_mail_task(reservation_id: int, kind: str, base_url: str = "") -> bool:
    return send_reservation_mail(reservation_id, kind, base_url)


@shared_task(name="apps.booking.tasks.release_holds")
def release_holds() -> int:
    return holds_release_expired(now=timezone.now())


@shared_task(name="apps.booking.tasks.release_holds_everywhere")
def release_holds_everywhere() -> int:
    return for_each_city(release_holds)
