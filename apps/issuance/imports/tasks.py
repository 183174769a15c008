"""The card-list import's background work (docs/card-import.md): large files are validated and applied here, in
the city's schema (tenant-schemas-celery carries it); upload files are cleaned up in every city. Ids only."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from apps.issuance.imports import services as services_import
from apps.issuance.imports.apply import import_apply, import_mark_failed
from tenants.fanout import for_each_city

logger = logging.getLogger(__name__)


@shared_task(name="apps.issuance.tasks_import.validate_import")
def validate_import(batch_id: int) -> str:
    try:
        return services_import.import_validate(batch_id=batch_id, progress=True).status
    except Exception:
        # The batch must not stay "validating" for ever: the page says it failed, nothing was written.
        logger.exception("import %s: validation failed", batch_id)
        import_mark_failed(batch_id=batch_id)
        return "failed"


@shared_task(name="apps.issuance.tasks_import.apply_import")
def apply_import(
    batch_id: int, actor_id: int | None, api_key_prefix: str | None = None, address: str = ""
) -> str:
    try:
        batch = import_apply(
            batch_id=batch_id, actor_id=actor_id, api_key_prefix=api_key_prefix, address=address
        )
    except Exception:
        logger.exception("import %s: apply failed", batch_id)
        import_mark_failed(batch_id=batch_id)
        return "failed"
    return batch.status if batch is not None else "missing"


@shared_task(name="apps.issuance.tasks_import.cleanup_import_files")
def cleanup_import_files() -> int:
    return services_import.import_files_cleanup(now=timezone.now())


@shared_task(name="apps.issuance.tasks_import.cleanup_import_files_everywhere")
def cleanup_import_files_everywhere() -> int:
    return for_each_city(cleanup_import_files)
