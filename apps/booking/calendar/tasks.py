"""Keep every city's slots filled for its booking window, fanned out from beat."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from apps.booking.calendar.services import slots_sync
from tenants.fanout import for_each_city


# Names pinned to where the tasks were defined before the feature packages: beat and queued messages use them.
@shared_task(name="apps.booking.tasks.sync_slots")
def sync_slots() -> int:
    return slots_sync(today=timezone.localdate()).created


@shared_task(name="apps.booking.tasks.sync_slots_everywhere")
def sync_slots_everywhere() -> int:
    return for_each_city(sync_slots)
