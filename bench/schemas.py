"""Is a cloned city the same as a migrated one? (section 1 of `make bench`, the first pair measured)

Compares two schemas: tables, columns, constraint and index definitions with the schema's own name taken out,
their names (known difference: the clone names `unique_together` constraints `*_key` where Django names them
`*_<hash>_uniq`), migration records, row counts, identity sequences behind their table's rows, and foreign keys
into another schema.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any


def schema_fingerprint(schema: str) -> dict[str, Any]:
    """What a schema holds, with the schema's own name and the objects' generated names taken out."""
    from django.db import connection
    from psycopg import sql

    def strip(text: str) -> str:
        return text.replace(f"{schema}.", "").replace(f'"{schema}".', "")

    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        tables = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(
            "SELECT table_name, column_name, data_type, is_nullable, is_identity "
            "FROM information_schema.columns WHERE table_schema = %s",
            [schema],
        )
        columns = set(cursor.fetchall())
        cursor.execute(
            "SELECT cl.relname, con.contype, pg_get_constraintdef(con.oid), con.conname "
            "FROM pg_constraint con JOIN pg_class cl ON cl.oid = con.conrelid "
            "JOIN pg_namespace n ON n.oid = cl.relnamespace WHERE n.nspname = %s",
            [schema],
        )
        constraint_rows = cursor.fetchall()
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %s", [schema]
        )
        index_rows = cursor.fetchall()
        rows = {}
        for table in tables:
            cursor.execute(
                sql.SQL("SELECT count(*) FROM {}.{}")
                .format(sql.Identifier(schema), sql.Identifier(table))
                .as_string(cursor.connection)
            )
            rows[table] = cursor.fetchone()[0]
        cursor.execute(
            sql.SQL("SELECT app, name FROM {}.django_migrations")
            .format(sql.Identifier(schema))
            .as_string(cursor.connection)
        )
        migrations = set(cursor.fetchall())
        # An identity sequence behind its table's rows makes the next insert fail with a duplicate key.
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND is_identity = 'YES'",
            [schema],
        )
        stale_sequences = []
        for table, column in cursor.fetchall():
            qualified = (
                sql.SQL("{}.{}")
                .format(sql.Identifier(schema), sql.Identifier(table))
                .as_string(cursor.connection)
            )
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [qualified, column])
            sequence = cursor.fetchone()[0]
            cursor.execute(
                sql.SQL("SELECT max({}) FROM {}.{}")
                .format(sql.Identifier(column), sql.Identifier(schema), sql.Identifier(table))
                .as_string(cursor.connection)
            )
            highest = cursor.fetchone()[0]
            cursor.execute(f"SELECT last_value, is_called FROM {sequence}")
            last_value, is_called = cursor.fetchone()
            if highest is not None and (last_value < highest or (last_value == highest and not is_called)):
                stale_sequences.append(f"{table}.{column}")
    return {
        "tables": tables,
        "columns": columns,
        "constraints": Counter(
            (table, kind, strip(definition)) for table, kind, definition, _ in constraint_rows
        ),
        "constraint_names": {strip(name) for *_, name in constraint_rows},
        "indexes": Counter(
            (table, re.sub(r"INDEX \S+ ON ", "INDEX ON ", strip(definition)))
            for table, _, definition in index_rows
        ),
        "index_names": {name for _, name, _ in index_rows},
        "rows": rows,
        "migrations": migrations,
        "stale_sequences": sorted(
            stale_sequences
        ),  # in catalog order, which differs between clone and migrate
        "foreign_schema_refs": sorted(
            {
                definition
                for _, _, definition, _ in constraint_rows
                if re.search(r"REFERENCES \w+\.", strip(definition))
            }
        ),
    }


def compare_schemas(cloned: str, migrated: str) -> list[tuple[str, str, str, str]]:
    a, b = schema_fingerprint(cloned), schema_fingerprint(migrated)

    def rows_text(rows: dict[str, int]) -> str:
        return f"{sum(rows.values())} rows in {sum(1 for n in rows.values() if n)} tables"

    def same(equal: bool) -> str:
        return "same" if equal else "**DIFFERENT**"

    def names(kind: str) -> str:
        only_clone = sorted(a[kind] - b[kind])
        if a[kind] == b[kind]:
            return "same"
        # Known (ARCHITECTURE.md, cloning gotchas): the clone re-creates unique_together as an inline UNIQUE,
        # which PostgreSQL names *_key where Django names it *_<hash>_uniq. Django alters those by columns.
        known = bool(only_clone) and all(name.endswith("_key") for name in only_clone)
        return f"{len(only_clone)} differ" + (" (known: `_key` vs `_uniq`)" if known else " **(unexpected)**")

    result = [
        ("tables", str(len(a["tables"])), str(len(b["tables"])), same(a["tables"] == b["tables"])),
        (
            "columns (name, type, null, identity)",
            str(len(a["columns"])),
            str(len(b["columns"])),
            same(a["columns"] == b["columns"]),
        ),
        (
            "constraint definitions",
            str(sum(a["constraints"].values())),
            str(sum(b["constraints"].values())),
            same(a["constraints"] == b["constraints"]),
        ),
        (
            "index definitions",
            str(sum(a["indexes"].values())),
            str(sum(b["indexes"].values())),
            same(a["indexes"] == b["indexes"]),
        ),
        ("constraint names", "", "", names("constraint_names")),
        ("index names", "", "", names("index_names")),
        (
            "migration records",
            str(len(a["migrations"])),
            str(len(b["migrations"])),
            same(a["migrations"] == b["migrations"]),
        ),
        (
            "rows (content types, permissions, city defaults)",
            rows_text(a["rows"]),
            rows_text(b["rows"]),
            same(a["rows"] == b["rows"]),
        ),
        (
            "identity sequences behind their table's rows",
            ", ".join(a["stale_sequences"]) or "none",
            ", ".join(b["stale_sequences"]) or "none",
            same(a["stale_sequences"] == b["stale_sequences"]),
        ),
        (
            "foreign keys into another schema",
            str(len(a["foreign_schema_refs"])),
            str(len(b["foreign_schema_refs"])),
            same(a["foreign_schema_refs"] == b["foreign_schema_refs"]),
        ),
    ]
    if a["rows"] != b["rows"]:
        differences = ", ".join(
            f"{table} {a['rows'].get(table)}≠{b['rows'].get(table)}"
            for table in sorted(set(a["rows"]) | set(b["rows"]))
            if a["rows"].get(table) != b["rows"].get(table)
        )
        result.append(("row count differences", differences, "", "**DIFFERENT**"))
    return result
