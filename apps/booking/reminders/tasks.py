"""Reminder mails for tomorrow's visits, fanned out to every city from beat."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from apps.booking.reminders.services import reminders_send_due
from tenants.fanout import for_each_city


# Names pinned to where the tasks were defined before the feature packages: beat and queued messages use them.
@shared_task(name="apps.booking.tasks.send_reminders")
def send_reminders() -> dict[str, int]:
    return reminders_send_due(now=timezone.now())


@shared_task(name="apps.booking.tasks.send_reminders_everywhere")
def send_reminders_everywhere() -> int:
    return for_each_city(send_reminders)
