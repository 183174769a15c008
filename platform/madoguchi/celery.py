"""The one Celery app. Tasks run in the schema they were sent from (tenant-schemas-celery)."""

from __future__ import annotations

import os

from celery.signals import setup_logging, task_prerun
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")

app = CeleryApp("madoguchi")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.set_default()


@setup_logging.connect
def _keep_django_logging(**kwargs: object) -> None:
    """Celery would replace root's handlers with its own, which lack the filter that masks a 個人番号
    (madoguchi.logs): with a receiver here it leaves logging to Django's LOGGING."""


@task_prerun.connect
def _log_context(task_id: str | None = None, **kwargs: object) -> None:
    from django.db import connection

    from base.log_context import request_id_var, tenant_var

    request_id_var.set(f"task-{task_id}")
    tenant_var.set(getattr(connection, "schema_name", "-"))


def ensure_broker_dirs() -> None:
    """The filesystem transport needs its folders before the first message."""
    from django.conf import settings

    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if key in options:
            os.makedirs(str(options[key]), exist_ok=True)
