"""Hand work to the Celery worker from a request without letting a broker outage fail the request.

`task.delay()` raises when the broker (Redis) cannot be reached, after Celery's publish retries. Called in
`transaction.on_commit`, that turns a booking that was saved into a 500 for the resident. `enqueue` tries it; when
that fails it logs (once per 30 s, base.cache.Breaker), runs the caller's `fallback` and returns False. After a
failure the broker is skipped for a few seconds, so a burst of requests does not each wait for it.

Each call site picks its fallback (docs/operations.md, "Redis down"): a booking mail is sent in the request, through
the same claim on its outbox row as the worker's (apps/booking/reservations/outbox.py), so the resident gets the
confirmation at once; a large card import is marked failed (too long for a request; staff upload it again).
Periodic work needs none: beat sends it again at its next tick.

`True` means the broker accepted the message, not that it will run: Redis without persistence loses what it holds
when it dies, and a publish can fail after the broker took the message. Work that must happen exactly once keeps
its own record in the database and a periodic scan for what no message carried out (the booking mails' outbox,
the reminders' claim rows), and makes its task safe to run twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from base.cache import Breaker

logger = logging.getLogger(__name__)

BROKER = Breaker("Celery broker")


def enqueue(task: Any, *args: Any, fallback: Callable[[], object] | None = None, **kwargs: Any) -> bool:
    """`task.delay(*args, **kwargs)`; True when queued. On a broker error: log, run `fallback`, False.

    The fallback's own failure is logged, not raised (this runs after the commit: the work it stands for is
    already saved)."""
    if not BROKER.is_open():
        try:
            # Celery's publish retries (3, within about a second when the connection is refused) then raises.
            task.delay(*args, **kwargs)
            return True
        except Exception as exc:  # kombu's OperationalError, redis' errors, OSError: the broker is not there
            BROKER.failed(exc, f"sending {getattr(task, 'name', task)}")
    if fallback is not None:
        try:
            fallback()
        except Exception:
            logger.exception("the fallback of %s failed", getattr(task, "name", task))
    return False
