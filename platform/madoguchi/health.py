"""/healthz: the process answers. /readyz: it can serve (database, migrations), as JSON, with the broker reported.

The broker does not decide readiness: with Redis away residents still book (the cache fails open, base/cache.py;
the booking mail is sent in the request, base/tasks.py). A readiness that failed on it would take every web pod out
of the load balancer at once, for an outage the pods ride out. It shows as `"broker": {"ok": false}` and the status
`degraded`, still 200."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tenants.db import use_public_schema

logger = logging.getLogger(__name__)
_migrations_ok = False  # once every schema is migrated it stays so for this process's code


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return None


def _check_migrations() -> str | None:
    global _migrations_ok
    if _migrations_ok:
        return None
    from tenants.migration import expected_migrations, schemas_with_pending_migrations
    from tenants.selectors import municipality_list

    schemas = ["public", *municipality_list().values_list("schema_name", flat=True)]
    pending = schemas_with_pending_migrations(schemas, expected_migrations())
    if pending:
        return f"{len(pending)} schema(s) with pending migrations"
    _migrations_ok = True
    return None


def _check_broker() -> str | None:
    from madoguchi.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=2)
    return None


CHECKS: dict[str, Callable[[], str | None]] = {
    "database": _check_database,
    "migrations": _check_migrations,
    "broker": _check_broker,
}
# Reported, not required: a failure makes the status "degraded", still 200 (module docstring).
OPTIONAL = frozenset({"broker"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    use_public_schema()
    results: dict[str, dict[str, object]] = {}
    ready = True
    degraded = False
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            problem = check()
        except Exception as exc:  # a failed dependency is the answer here, not an error page
            logger.warning("readyz: %s failed: %s", name, exc)
            problem = type(exc).__name__
        if name in OPTIONAL:
            degraded = degraded or problem is not None
        else:
            ready = ready and problem is None
        results[name] = {"ok": problem is None, "ms": round((time.perf_counter() - started) * 1000, 1)}
        if problem:
            results[name]["error"] = problem
    status = "unavailable" if not ready else "degraded" if degraded else "ready"
    return JsonResponse({"status": status, "checks": results}, status=200 if ready else 503)
