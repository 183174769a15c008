"""Background work of provisioning: keeping the warm pool of spare schemas full (docs/tenancy.md)."""

from __future__ import annotations

from celery import shared_task

from tenants.db import use_public_schema
from tenants.services import pool_refill as pool_refill_service


@shared_task
def pool_refill() -> int:
    """Beat entry point (public) and the follow-up of every city taken from the pool: returns spares cloned."""
    use_public_schema()
    return pool_refill_service()
