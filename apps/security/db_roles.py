"""The application's database role: everything it needs, and no way to change or remove audit events.

The migrating role owns every table; the application connects as another role that may read and write every
table except the audit table, where it may only read and append. ops/database-roles.md explains the setup.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.conf import settings
from django.db import connection, transaction

from apps.security.audit_models import AuditEvent, AuditHead

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _quoted(name: str, what: str) -> str:
    # Identifiers cannot be query parameters; accepting only plain lower-case names makes quoting them safe.
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a plain PostgreSQL {what} name: {name!r}")
    return f'"{name}"'


def app_role_grant_statements(*, role: str, schema: str) -> list[str]:
    """The GRANTs (and the REVOKEs that keep the audit table append-only) for one schema. Idempotent."""
    r, s = _quoted(role, "role"), _quoted(schema, "schema")
    audit = f"{s}.{_quoted(AuditEvent._meta.db_table, 'table')}"
    head = f"{s}.{_quoted(AuditHead._meta.db_table, 'table')}"
    return [
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {audit} FROM {r}",
        # The chain's head moves with every event (UPDATE) and is re-anchored by audit_head_reset (INSERT); the
        # application never removes it, and a removed head is reported by audit_verify.
        f"REVOKE DELETE, TRUNCATE, REFERENCES, TRIGGER ON {head} FROM {r}",
    ]


def security_schemas() -> list[str]:
    """Every schema with the security app's tables: public, the city template (cloned with its grants), every city."""
    from tenants.models import Municipality

    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        existing = {row[0] for row in cursor.fetchall()}
    names = [
        "public",
        settings.TENANT_BASE_SCHEMA,
        *Municipality.objects.values_list("schema_name", flat=True),
    ]
    return [name for name in dict.fromkeys(names) if name in existing]


def app_role_grant(*, role: str, schemas: Sequence[str]) -> list[str]:
    """Grant `role` the application's privileges in `schemas` (run as the tables' owner); returns the SQL run."""
    statements = [f"GRANT CONNECT ON DATABASE {_database()} TO {_quoted(role, 'role')}"]
    for schema in schemas:
        statements += app_role_grant_statements(role=role, schema=schema)
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return statements


def _database() -> str:
    name = str(connection.settings_dict["NAME"])
    return '"' + name.replace('"', '""') + '"'
