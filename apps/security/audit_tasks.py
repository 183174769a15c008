"""The daily dependency audit (beat, public schema only): new findings are mailed to the vendor and sent to Sentry.

Not in tasks.py so that this job and the per-city housekeeping there can change independently; Celery finds it
through CELERY_IMPORTS (docs/security.md).
"""

from __future__ import annotations

import logging

from celery import shared_task

from apps.security.vulnerability import DependencyAuditError, dependency_audit_check
from tenants.db import current_schema

logger = logging.getLogger(__name__)


@shared_task(name="apps.security.audit_tasks.dependency_audit_daily")
def dependency_audit_daily() -> int:
    """Audit the installed packages once; returns the number of new findings (-1: the audit could not run)."""
    # The packages are the deployment's, not a city's: one run, from beat in public, never once per city.
    if current_schema() != "public":
        logger.warning("dependency_audit_daily sent from schema %s: ignored", current_schema())
        return 0
    try:
        return len(dependency_audit_check())
    except DependencyAuditError:
        return -1  # already alerted; a retry would alert again for the same cause
