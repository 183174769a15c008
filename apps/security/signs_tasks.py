"""The periodic check for attack signs (beat entry `detect-attack-signs`, every ATTACK_SIGN_WINDOW_SECONDS)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from apps.security.signs import signs_alert


@shared_task
def detect_attack_signs() -> int:
    """Alert the vendor about the windows that have ended; returns how many new signs were sent. Runs in public:
    the counters are not per city."""
    return len(signs_alert(now=timezone.now()))
