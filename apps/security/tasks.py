"""Periodic housekeeping that must run in every city's schema, not only in public."""

from __future__ import annotations

from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone

from tenants.db import use_public_schema
from tenants.fanout import for_each_city


@shared_task
def clear_expired_sessions() -> int:
    """Delete the expired sessions of the schema this task was sent from."""
    deleted, _by_model = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


@shared_task
def clear_expired_sessions_everywhere() -> int:
    """Beat entry point (public): one task per city, plus the vendor's own sessions."""
    clear_expired_sessions.delay()
    sent = for_each_city(clear_expired_sessions)
    use_public_schema()
    return sent
