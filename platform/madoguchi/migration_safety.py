"""Migrations that keep the running code working: the check behind zero-downtime upgrades (docs/operations.md).

During a rolling upgrade the old release's processes keep serving while `migrate_schemas` runs, and for a while
after, against the new schema. So a migration that a release ships may only *expand* the schema: add a table, a
nullable column or one with a database default, an index, a constraint the old code already satisfies. What
*contracts* it (drops or renames a column or a table, or makes a column NOT NULL without a database default, so
the old code's INSERTs fail) must wait for a later release, once no running code uses what goes away.

`ops/released-migrations.txt` lists every migration that some release has shipped. Each migration not in it (what
this release would ship) is inspected here: an operation that contracts the schema, or that the check cannot judge
(RunSQL, RunPython, AlterField), is a finding unless the migration says why it is safe:

    class Migration(migrations.Migration):
        zero_downtime = "contract: release 2027.02 stopped reading booking_slot.note (see #123)"

`manage.py migration_safety` prints the findings (exit 1 if any); `--release` records the new migrations as
shipped once the release is tagged. A test runs the check on the tree, so an unsafe migration fails `make test`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.db import migrations, models
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.models.fields import NOT_PROVIDED

RELEASED_FILE = Path(__file__).resolve().parents[2] / "ops" / "released-migrations.txt"
# Only the project's own apps: third-party migrations are the upgrade notes of their packages.
OWN_APPS = frozenset({"booking", "issuance", "security", "tenants", "console"})
MARKER = "zero_downtime"

_CONTRACTS = {
    migrations.RemoveField: "drops a column the old code still reads",
    migrations.DeleteModel: "drops a table the old code still uses",
    migrations.RenameField: "renames a column: the old code asks for the old name",
    migrations.RenameModel: "renames a table: the old code asks for the old name",
    migrations.AlterModelTable: "moves a table: the old code asks for the old name",
}
_UNJUDGED = {
    migrations.RunSQL: "raw SQL: the check cannot tell what it changes or how long it locks",
    migrations.RunPython: "a data migration: it runs inside the deploy and may lock or rewrite many rows",
    migrations.AlterField: "changes a column's type, nullability or constraints: may break the old code or rewrite "
    "the table",
}


@dataclass(frozen=True)
class Finding:
    migration: str  # app_label.name
    operation: str
    reason: str

    def __str__(self) -> str:
        return f"{self.migration}: {self.operation}: {self.reason}"


def _add_field_finding(operation: migrations.AddField) -> str | None:
    field = operation.field
    if field.many_to_many or field.null:
        return None
    if getattr(field, "db_default", NOT_PROVIDED) is not NOT_PROVIDED:
        return None
    # Django drops a plain `default` from the column once the rows are filled: the old code's INSERTs, which do not
    # name the column, then fail on NOT NULL.
    return "adds a NOT NULL column without db_default: the old code's INSERTs would fail"


def operation_findings(operation: object) -> Iterable[str]:
    """Why one operation could break the old release's code (nothing if it only expands the schema)."""
    if isinstance(operation, migrations.AddField):
        reason = _add_field_finding(operation)
        if reason:
            yield reason
        return
    for kinds in (_CONTRACTS, _UNJUDGED):
        for kind, reason in kinds.items():
            if type(operation) is kind:
                yield reason
    if isinstance(operation, migrations.AddConstraint) and isinstance(
        operation.constraint, models.CheckConstraint
    ):
        yield "a CHECK constraint validates every existing row and refuses the old code's writes that break it"


def migration_findings(
    label: str, migration: Migration, new_tables: frozenset[str] = frozenset()
) -> list[Finding]:
    """The findings of one migration. `new_tables` ("app.model") are created by unreleased migrations: the old code
    does not know them, so what is done to them breaks nothing."""
    if getattr(migration, MARKER, ""):
        return []
    app = label.split(".", 1)[0]
    return [
        Finding(label, type(operation).__name__, reason)
        for operation in migration.operations
        if f"{app}.{str(getattr(operation, 'model_name', '')).lower()}" not in new_tables
        for reason in operation_findings(operation)
    ]


def created_tables(pending: Iterable[tuple[str, Migration]]) -> frozenset[str]:
    return frozenset(
        f"{label.split('.', 1)[0]}.{operation.name.lower()}"
        for label, migration in pending
        for operation in migration.operations
        if isinstance(operation, migrations.CreateModel)
    )


def released(path: Path | None = None) -> set[str]:
    path = path or RELEASED_FILE
    if not path.exists():
        return set()
    return {
        line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
    }


def unreleased(loader: MigrationLoader, shipped: set[str]) -> list[tuple[str, Migration]]:
    """The project's migrations on disk that no release has shipped yet, in a stable order."""
    return sorted(
        (f"{app}.{name}", migration)
        for (app, name), migration in loader.disk_migrations.items()
        if app in OWN_APPS and f"{app}.{name}" not in shipped
    )


def check(path: Path | None = None) -> tuple[list[str], list[Finding]]:
    """(the unreleased migrations, their findings)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    pending = unreleased(loader, released(path))
    new_tables = created_tables(pending)
    findings = [
        finding
        for label, migration in pending
        for finding in migration_findings(label, migration, new_tables)
    ]
    return [label for label, _ in pending], findings


def record_release(labels: Iterable[str], path: Path | None = None) -> None:
    """Append the migrations a release ships to the released list (kept sorted, one per line)."""
    path = path or RELEASED_FILE
    names = released(path) | set(labels)
    header = (
        "# Migrations shipped by a release (platform/madoguchi/migration_safety.py). Appended by\n"
        "# `manage.py migration_safety --release` when a release is tagged; never edited by hand.\n"
    )
    path.write_text(header + "".join(f"{name}\n" for name in sorted(names)))
