"""Periodic booking work, fanned out to every city: keep slots filled, release expired holds."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from apps.booking.services import holds_release_expired, slots_sync
from tenants.fanout import for_each_city


@shared_task
def sync_slots() -> int:
    return slots_sync(today=timezone.localdate()).created


@shared_task
def release_holds() -> int:
    return holds_release_expired(now=timezone.now())


@shared_task
def sync_slots_everywhere() -> int:
    return for_each_city(sync_slots)


@shared_task
def release_holds_everywhere() -> int:
    return for_each_city(release_holds)


@shared_task
def send_reminders() -> dict[str, int]:
    from apps.booking.reminders import reminders_send_due

    return reminders_send_due(now=timezone.now())


@shared_task
def send_reminders_everywhere() -> int:
    return for_each_city(send_reminders)
