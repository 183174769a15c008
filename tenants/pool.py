"""The warm pool: spare clones of the template schema, made in advance so that creating a city is a rename.

`clone_schema` reads the whole system catalog, so a clone's time grows with the number of cities (0.6 s below 218,
2 s at 1,741: bench/report.md section 7). A spare is cloned in the background (`pool_refill` in tenants.services,
the Celery task `tenants.tasks.pool_refill` and `manage.py pool_refill`); `spare_take` hands one to a new city with
`ALTER SCHEMA ... RENAME TO`, whose cost does not depend on the catalog's size.

A spare is used only when it is exactly what a clone made now would be: its fingerprint (migration records and
privileges, taken right after its clone) equals the template's at the time of the take. Spares are not migrated by
deploys: after one they no longer match, are dropped, and the creation clones as before. docs/tenancy.md.
"""

from __future__ import annotations

import hashlib
import logging
import secrets

from django.conf import settings
from django.db import connection, transaction
from psycopg import sql

from tenants.migration import schemas_with_pending_migrations
from tenants.pool_models import SpareSchema

logger = logging.getLogger(__name__)

# City slugs are [a-z][a-z0-9]{1,30} (tenants.models.slug_validator): a name with an underscore is never a city's.
SPARE_PREFIX = "spare_"

# Owners and privileges of the schema, its tables, sequences, views and functions. Index names are left out: a
# clone names six of them differently from the migrated template (docs/tenancy.md), with identical definitions.
# A missing ACL is the default one (acldefault): the clone writes out a function's default EXECUTE grant. The
# objects are found through their dependency on the schema (what DROP SCHEMA ... CASCADE follows), by index: pg_class
# has no index on relnamespace, and a scan of it grows with every city (93 ms at 300 cities, against 2 ms).
_PRIVILEGES_SQL = """
WITH ns AS (SELECT oid, nspowner, nspacl FROM pg_namespace WHERE nspname = %(schema)s),
members AS (
    SELECT d.classid, d.objid FROM pg_depend d, ns
    WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = ns.oid
)
SELECT 'schema', ns.nspowner::regrole::text, coalesce(ns.nspacl, acldefault('n', ns.nspowner))::text FROM ns
UNION ALL
SELECT c.relkind::text || ':' || c.relname, c.relowner::regrole::text,
       coalesce(c.relacl, acldefault((CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char", c.relowner))::text
FROM members m JOIN pg_class c ON c.oid = m.objid
WHERE m.classid = 'pg_class'::regclass AND c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f')
UNION ALL
SELECT 'f:' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       p.proowner::regrole::text, coalesce(p.proacl, acldefault('f', p.proowner))::text
FROM members m JOIN pg_proc p ON p.oid = m.objid
WHERE m.classid = 'pg_proc'::regclass
ORDER BY 1
"""


def pool_size() -> int:
    """The number of spares to keep (settings.TENANT_POOL_SIZE); 0 turns the pool off. Only for cloned cities."""
    if settings.TENANT_CREATION != "clone":
        return 0
    return max(0, int(getattr(settings, "TENANT_POOL_SIZE", 0)))


def schema_fingerprint(schema: str) -> str:
    """A digest of `schema`'s migration records and privileges: equal for a schema and an up-to-date clone of it."""
    digest = hashlib.sha256()
    with connection.cursor() as cursor:
        query = sql.SQL("SELECT app, name FROM {}.django_migrations ORDER BY app, name").format(
            sql.Identifier(schema)
        )
        cursor.execute(query.as_string(cursor.connection))
        for app, name in cursor.fetchall():
            digest.update(f"m {app}.{name}\n".encode())
        cursor.execute(_PRIVILEGES_SQL, {"schema": schema})
        for row in cursor.fetchall():
            digest.update(("p " + " ".join(str(value) for value in row) + "\n").encode())
    return digest.hexdigest()


def template_fingerprint() -> str | None:
    """The template's fingerprint, or None when the template lacks a migration (then only a clone will do)."""
    template = settings.TENANT_BASE_SCHEMA
    if schemas_with_pending_migrations([template]):
        return None
    return schema_fingerprint(template)


def spare_name() -> str:
    return SPARE_PREFIX + secrets.token_hex(6)


def spare_take(schema_name: str, *, fingerprint: str) -> bool:
    """Rename a spare with `fingerprint` (the template's now) to `schema_name`, in the caller's transaction; False
    when there is none.

    The spare's row is locked with SKIP LOCKED, so two creations at once take two different spares, and neither
    waits for the other nor for a refill's clone. The row is deleted in the same transaction: on a rollback the
    spare goes back to the pool under its own name.
    """
    spare = (
        SpareSchema.objects.select_for_update(skip_locked=True)
        .filter(fingerprint=fingerprint)
        .order_by("id")
        .first()
    )
    if spare is None:
        return False
    spare.delete()
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("ALTER SCHEMA {} RENAME TO {}")
            .format(sql.Identifier(spare.schema_name), sql.Identifier(schema_name))
            .as_string(cursor.connection)
        )
    logger.info("city schema %s taken from the spare %s", schema_name, spare.schema_name)
    return True


def spares_discard(*, keep_fingerprint: str | None, keep: int | None) -> int:
    """Drop the spares that do not match `keep_fingerprint` (all when None), and those beyond the first `keep`
    current ones (None: keep every current one).

    Each in its own transaction; spares being taken right now (locked) are left alone. Returns how many went.
    """
    dropped = 0
    kept = 0
    for spare_id in list(SpareSchema.objects.order_by("id").values_list("id", flat=True)):
        with transaction.atomic():
            spare = SpareSchema.objects.select_for_update(skip_locked=True).filter(id=spare_id).first()
            if spare is None:
                continue
            if spare.fingerprint == keep_fingerprint and (keep is None or kept < keep):
                kept += 1
                continue
            spare_drop(spare)
            dropped += 1
    return dropped


def spare_drop(spare: SpareSchema) -> None:
    """Remove one spare, schema and row (the caller holds its row lock, in a transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE")
            .format(sql.Identifier(spare.schema_name))
            .as_string(cursor.connection)
        )
    spare.delete()
    logger.info("spare schema %s dropped", spare.schema_name)


def spares_current(fingerprint: str) -> int:
    return SpareSchema.objects.filter(fingerprint=fingerprint).count()
