"""Operations tasks of the composition root: the nightly per-city dumps (docs/operations.md, "Backups")."""

from __future__ import annotations

import logging

from celery import shared_task

from madoguchi.backups import BackupError, dump_cities

logger = logging.getLogger(__name__)


@shared_task(name="ops.city_dump_nightly", acks_late=True)
def city_dump_nightly() -> dict[str, int]:
    """Dump every active and offboarding city in batches (madoguchi.backups.dump_cities; cities created meanwhile
    too); a failed batch is logged and does not stop the others; the task fails at the end if any did, so the
    failure is seen."""
    result = dump_cities()
    for slug, error in sorted(result.failed.items()):
        logger.error("nightly dump failed for %s: %s", slug, error)
    if result.failed:
        raise BackupError(f"nightly dumps failed for: {', '.join(sorted(result.failed))}")
    return {"dumped": len(result.dumps), "batches": result.batches}


@shared_task(name="ops.tls_expiry_remind", acks_late=True)
def tls_expiry_remind_daily() -> dict[str, int]:
    """Mail the vendor's operators before nginx's certificates expire (madoguchi.tls; the EV ones are renewed by
    hand)."""
    from django.utils import timezone

    from madoguchi.tls import tls_expiry_remind

    return {"mailed": len(tls_expiry_remind(timezone.now()))}
