"""Deploy migrations that stay fast with many cities.

The stock executors open every schema and build Django's migration state even when nothing is pending
(~0.1 s per city). Here one query reads the applied migrations of every schema at once; schemas that already have
every migration of the code are skipped, and the rest run in parallel with django-tenants' multiprocessing executor.

django-tenants-smart-executor does the same skip, but with a connection switch and one query per schema, so its cost
still grows per city; the measurement is in bench/report.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django_tenants.migration_executors import get_executor as stock_get_executor
from django_tenants.migration_executors.base import MigrationExecutor
from django_tenants.utils import get_public_schema_name, schema_exists
from psycopg import sql

logger = logging.getLogger(__name__)


def expected_migrations() -> set[str]:
    """Every migration of the code, as 'app.name' (Django records all of them in every schema)."""
    loader = MigrationLoader(None, ignore_no_migrations=True, load=True)
    return {f"{app}.{name}" for app, name in loader.graph.nodes}


def schemas_with_pending_migrations(schemas: Sequence[str], expected: set[str] | None = None) -> list[str]:
    """The schemas among `schemas` that lack any migration of the code, in the given order.

    One catalog query finds which schemas have a migration table; one query counts the applied migrations of
    all of them. Schema names come from the Municipality table and are validated to [a-z0-9_] on creation.
    """
    if not schemas:
        return []
    expected = expected if expected is not None else expected_migrations()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema FROM information_schema.tables "
            "WHERE table_name = 'django_migrations' AND table_schema = ANY(%s)",
            [list(schemas)],
        )
        with_table = {row[0] for row in cursor.fetchall()}
        applied: dict[str, int] = {}
        if with_table:
            branches = [
                sql.SQL(
                    "SELECT {name}::text, count(*) FROM {schema}.django_migrations m "
                    "JOIN expected e ON e.key = m.app || '.' || m.name"
                ).format(name=sql.Literal(schema), schema=sql.Identifier(schema))
                for schema in sorted(with_table)
            ]
            query = sql.SQL("WITH expected AS (SELECT unnest(%s::text[]) AS key) {}").format(
                sql.SQL(" UNION ALL ").join(branches)
            )
            cursor.execute(query.as_string(cursor.connection), [sorted(expected)])
            applied = dict(cursor.fetchall())
    return [schema for schema in schemas if applied.get(schema, 0) < len(expected)]


def _is_plain_deploy(options: dict[str, Any]) -> bool:
    # Naming a migration, faking, planning or pruning must reach every schema as asked.
    return not any(
        options.get(key)
        for key in ("app_label", "migration_name", "fake", "fake_initial", "plan", "prune", "check_unapplied")
    )


def get_executor(codename: str | None = None) -> type[MigrationExecutor]:
    base: type[MigrationExecutor] = stock_get_executor(codename or "multiprocessing")

    class SkipUpToDateExecutor(base):
        def run_migrations(self, tenants: Iterable[str] | None = None) -> None:
            schemas = list(tenants or [])
            public = get_public_schema_name()
            if public not in schemas and not self.options.get("schema_name"):
                # A deploy keeps the template migrated too: new cities are cloned from it.
                template = settings.TENANT_BASE_SCHEMA
                if template not in schemas and schema_exists(template):
                    schemas.append(template)
            if _is_plain_deploy(self.options):
                expected = expected_migrations()
                pending = set(schemas_with_pending_migrations(schemas, expected))
                skipped = len(schemas) - len(pending)
                if skipped:
                    logger.info(
                        "migrate_schemas: %d of %d schemas already up to date, skipped", skipped, len(schemas)
                    )
                schemas = [s for s in schemas if s in pending]
            if public in schemas or len(schemas) <= 1:
                # One schema: a process pool would only add its start-up cost.
                stock_get_executor("standard")(self.args, self.options).run_migrations(tenants=schemas)
                return
            if schemas:
                super().run_migrations(tenants=schemas)

    return SkipUpToDateExecutor
