"""The restore check (make restore-check): each city's newest dump restored alone from its batch archive into a
scratch database on the same server, then its row counts and checksums compared with the manifest."""

from __future__ import annotations

import re
import secrets
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psycopg import sql

from madoguchi.backups import (
    RESTORE_TIMEOUT_SECONDS,
    BackupError,
    CityDump,
    Server,
    backup_dir,
    pg_binary,
    scan_dumps,
    server_version_num,
    sha256_of,
    table_checksums,
)


@dataclass
class CheckResult:
    slug: str
    dump: CityDump | None
    tables: int = 0
    rows: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def compare(expected: dict[str, dict[str, Any]], restored: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for name in sorted(set(expected) - set(restored)):
        problems.append(f"table {name} missing from the restored copy")
    for name in sorted(set(restored) - set(expected)):
        problems.append(f"table {name} restored but not in the manifest")
    for name in sorted(set(expected) & set(restored)):
        want, got = expected[name], restored[name]
        if want["rows"] != got["rows"]:
            problems.append(f"table {name}: {want['rows']} rows in the manifest, {got['rows']} restored")
        elif want["md5"] != got["md5"]:
            problems.append(
                f"table {name}: checksum differs ({want['md5']} in the manifest, {got['md5']} restored)"
            )
    return problems


@contextmanager
def city_restore_list(pg_restore: Path, archive: Path, schema: str) -> Iterator[Path]:
    """A list file for `pg_restore --use-list` restoring one city alone from a batch archive: the schema's own
    entries (CREATE SCHEMA, its comment and privileges, which `-n` leaves out) then what `-n <schema>` selects."""

    def toc(*options: str) -> list[str]:
        proc = subprocess.run(  # noqa: S603 (argv of a PostgreSQL binary and a backup file)
            [str(pg_restore), "--list", *options, str(archive)],
            capture_output=True,
            text=True,
            timeout=RESTORE_TIMEOUT_SECONDS,
            check=False,
        )
        if proc.returncode != 0:
            raise BackupError(f"pg_restore --list {archive.name} failed: {proc.stderr.strip()[-2000:]}")
        return [line for line in proc.stdout.splitlines() if line and not line.startswith(";")]

    own = re.compile(rf"^\d+; \d+ \d+ (SCHEMA - |COMMENT - SCHEMA |ACL - SCHEMA ){re.escape(schema)} ")
    head = [line for line in toc() if own.match(line)]
    if not head:
        raise BackupError(f"{archive} holds no schema {schema}")
    with tempfile.NamedTemporaryFile("w", prefix="madoguchi-restore-", suffix=".list", encoding="utf-8") as f:
        f.write("\n".join([*head, *toc(f"--schema={schema}")]) + "\n")
        f.flush()
        yield Path(f.name)


class _Archives:
    """sha256 of each batch archive, computed once however many of its cities are checked."""

    def __init__(self) -> None:
        self.sums: dict[Path, str] = {}

    def intact(self, dump: CityDump) -> bool:
        if dump.archive not in self.sums:
            self.sums[dump.archive] = sha256_of(dump.archive)
        return self.sums[dump.archive] == dump.info.get("sha256")


def _restore_one(
    server: Server, pg_restore: Path, dump: CityDump, archives: _Archives, *, timeout: int
) -> CheckResult:
    result = CheckResult(slug=dump.slug, dump=dump, tables=len(dump.tables), rows=dump.rows)
    try:
        if not archives.intact(dump):
            result.problems.append("the dump file differs from the one the manifest describes (sha256)")
            return result
    except OSError as exc:
        result.problems.append(f"the dump file cannot be read: {exc}")
        return result
    scratch = f"madoguchi_restore_check_{secrets.token_hex(6)}"
    with server.connect(autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(scratch)))
        try:
            with city_restore_list(pg_restore, dump.archive, dump.schema) as listing:
                proc = subprocess.run(  # noqa: S603 (argv built from the settings and a file of the backup directory)
                    [
                        str(pg_restore),
                        "--exit-on-error",
                        "--no-owner",
                        "--no-privileges",
                        "--no-password",
                        f"--use-list={listing}",
                        f"--dbname={scratch}",
                        str(dump.archive),
                    ],
                    env=server.env(scratch),
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    check=False,
                )
            if proc.returncode != 0:
                result.problems.append(
                    f"pg_restore failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
                )
                return result
            with server.connect(scratch) as conn, conn.cursor() as cursor:
                cursor.execute("SELECT set_config('statement_timeout', %s, false)", [f"{timeout}s"])
                restored = table_checksums(cursor, dump.schema)
                cursor.execute(
                    "SELECT nspname FROM pg_namespace WHERE nspname <> ALL(%s) "
                    "AND nspname NOT LIKE 'pg\\_%%' AND nspname <> 'information_schema'",
                    [[dump.schema, "public"]],
                )
                others = [row[0] for row in cursor.fetchall()]
            if others:
                result.problems.append(f"other schemas were restored too: {', '.join(sorted(others))}")
            result.problems.extend(compare(dump.tables, restored))
        except BackupError as exc:
            result.problems.append(str(exc))
        except subprocess.TimeoutExpired:
            result.problems.append(f"pg_restore took longer than {timeout} s")
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
    return result


def check_dumps(dumps: Sequence[CityDump], *, timeout: int = RESTORE_TIMEOUT_SECONDS) -> list[CheckResult]:
    """Restore each of `dumps` alone into a scratch database and compare it with its manifest."""
    server = Server.from_settings()
    pg_restore = pg_binary("pg_restore", server_version_num(server) // 10000)
    archives = _Archives()
    return [_restore_one(server, pg_restore, dump, archives, timeout=timeout) for dump in dumps]


def restore_check(
    *, directory: Path | None = None, slugs: Sequence[str] = (), timeout: int = RESTORE_TIMEOUT_SECONDS
) -> list[CheckResult]:
    """Restore each city's newest complete dump (the given cities', or every city's with a dump) and compare."""
    root = directory or backup_dir()
    if not root.is_dir():
        raise BackupError(f"no backup directory {root}")
    found = scan_dumps(root)
    wanted = list(slugs) or sorted(found.per_city)
    if not wanted and not found.unreadable:
        raise BackupError(f"no city dumps under {root}")
    newest = [found.per_city[slug][-1] for slug in wanted if found.per_city.get(slug)]
    checked = {r.slug: r for r in check_dumps(newest, timeout=timeout)}
    results = [
        checked.get(slug) or CheckResult(slug=slug, dump=None, problems=["no complete dump"])
        for slug in wanted
    ]
    results.extend(CheckResult(slug="?", dump=None, problems=[problem]) for problem in found.unreadable)
    return results
