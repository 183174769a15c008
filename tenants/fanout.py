"""Fan a periodic task out to every active city: beat runs in public, the work runs in each city's schema."""

from __future__ import annotations

from typing import Any

from django_tenants.utils import schema_context

from tenants.models import Municipality
from tenants.selectors import municipality_list


def for_each_city(task: Any, *args: Any, **kwargs: Any) -> int:
    """Send `task` once per active city; tenant-schemas-celery records the schema each was sent from."""
    schemas = (
        municipality_list().filter(status=Municipality.Status.ACTIVE).values_list("schema_name", flat=True)
    )
    sent = 0
    for schema in list(schemas):
        with schema_context(schema):
            task.delay(*args, **kwargs)
        sent += 1
    return sent
