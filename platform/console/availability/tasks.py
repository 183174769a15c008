"""The probe's beat task (settings.CELERY_BEAT_SCHEDULE "availability-probe", every minute, in the public schema)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from console.availability.probe import samples_prune, samples_record
from tenants.db import use_public_schema


@shared_task(name="console.availability.probe")
def probe() -> int:
    """Record this minute's sample; returns how many cities were probed."""
    use_public_schema()
    now = timezone.now()
    probed = samples_record(now=now).probed
    samples_prune(now=now)
    return probed
