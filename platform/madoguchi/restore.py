"""The restore check (make restore-check): the cities under check restored from each batch archive into ONE scratch
database on the same server (one pg_restore per archive, not one database per city), then each city's row counts
and checksums compared with its part of the manifest. A batch that does not restore is retried city by city, so
that the city at fault is named and the others still pass."""

from __future__ import annotations

import re
import secrets
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
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
def restore_list(pg_restore: Path, archive: Path, schemas: Sequence[str]) -> Iterator[Path]:
    """A list file for `pg_restore --use-list` restoring the given cities' schemas (and nothing else) from a batch
    archive: each schema's own entries (CREATE SCHEMA, its comment and privileges, which `-n` leaves out) then what
    `-n <a> -n <b> ...` selects. Two reads of the archive's table of contents however many schemas."""

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

    everything = toc()
    head = []
    for schema in schemas:
        own = re.compile(rf"^\d+; \d+ \d+ (SCHEMA - |COMMENT - SCHEMA |ACL - SCHEMA ){re.escape(schema)} ")
        entries = [line for line in everything if own.match(line)]
        if not entries:
            raise BackupError(f"{archive} holds no schema {schema}")
        head.extend(entries)
    with tempfile.NamedTemporaryFile("w", prefix="madoguchi-restore-", suffix=".list", encoding="utf-8") as f:
        f.write("\n".join([*head, *toc(*(f"--schema={schema}" for schema in schemas))]) + "\n")
        f.flush()
        yield Path(f.name)


def city_restore_list(pg_restore: Path, archive: Path, schema: str) -> AbstractContextManager[Path]:
    """`restore_list` of one city (city_pitr --apply)."""
    return restore_list(pg_restore, archive, [schema])


@contextmanager
def _scratch_database(server: Server) -> Iterator[str]:
    """An empty database on the same server, dropped afterwards (`WITH (FORCE)`, also on failure)."""
    scratch = f"madoguchi_restore_check_{secrets.token_hex(6)}"
    with server.connect(autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(scratch)))
        try:
            yield scratch
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))


def _restore_and_compare(
    server: Server,
    pg_restore: Path,
    dumps: Sequence[CityDump],
    results: dict[str, CheckResult],
    *,
    timeout: int,
) -> str | None:
    """Restore the `dumps` (cities of one archive) together into one scratch database and compare each city with
    its part of the manifest (problems go to its result). Returns why the restore itself failed, else None."""
    archive = dumps[0].archive
    schemas = [dump.schema for dump in dumps]
    with _scratch_database(server) as scratch:
        try:
            with restore_list(pg_restore, archive, schemas) as listing:
                proc = subprocess.run(  # noqa: S603 (argv built from the settings and a file of the backup directory)
                    [
                        str(pg_restore),
                        "--exit-on-error",
                        "--no-owner",
                        "--no-privileges",
                        "--no-password",
                        f"--use-list={listing}",
                        f"--dbname={scratch}",
                        str(archive),
                    ],
                    # A scratch copy needs no durable commits: one WAL flush less per restored object.
                    env={**server.env(scratch), "PGOPTIONS": "-c synchronous_commit=off"},
                    capture_output=True,
                    text=True,
                    timeout=timeout * len(dumps),
                    check=False,
                )
        except BackupError as exc:
            return str(exc)
        except subprocess.TimeoutExpired:
            return f"pg_restore took longer than {timeout * len(dumps)} s"
        if proc.returncode != 0:
            return f"pg_restore failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
        with server.connect(scratch) as conn:
            conn.execute("SELECT set_config('statement_timeout', %s, false)", [f"{timeout}s"])
            conn.commit()
            for dump in dumps:
                # One transaction per city: the locks of one city's tables at a time, not the whole batch's.
                try:
                    with conn.cursor() as cursor:
                        restored = table_checksums(cursor, dump.schema)
                    results[dump.slug].problems.extend(compare(dump.tables, restored))
                except psycopg.Error as exc:
                    results[dump.slug].problems.append(f"checksums of the restored copy failed: {exc}")
                conn.rollback()
            others = [
                str(row[0])
                for row in conn.execute(
                    "SELECT nspname FROM pg_namespace WHERE nspname <> ALL(%s) "
                    "AND nspname NOT LIKE 'pg\\_%%' AND nspname <> 'information_schema'",
                    [[*schemas, "public"]],
                ).fetchall()
            ]
        if others:
            for dump in dumps:
                results[dump.slug].problems.append(
                    f"other schemas were restored too: {', '.join(sorted(others))}"
                )
    return None


def _check_archive(
    server: Server, pg_restore: Path, dumps: Sequence[CityDump], *, timeout: int
) -> list[CheckResult]:
    """Check the `dumps` held by one batch archive: its sha256 once, then one scratch database for all of them.
    If that restore fails, each city is restored alone (a scratch database each) so that the failing city is
    named and the others still pass."""
    results = {
        dump.slug: CheckResult(slug=dump.slug, dump=dump, tables=len(dump.tables), rows=dump.rows)
        for dump in dumps
    }
    try:
        intact = sha256_of(dumps[0].archive) == dumps[0].info.get("sha256")
    except OSError as exc:
        intact, unreadable = False, f"the dump file cannot be read: {exc}"
    else:
        unreadable = "the dump file differs from the one the manifest describes (sha256)"
    if not intact:
        for result in results.values():
            result.problems.append(unreadable)
        return list(results.values())
    failure = _restore_and_compare(server, pg_restore, dumps, results, timeout=timeout)
    if failure is not None and len(dumps) > 1:
        for dump in dumps:
            alone = _restore_and_compare(server, pg_restore, [dump], results, timeout=timeout)
            if alone is not None:
                results[dump.slug].problems.append(alone)
    elif failure is not None:
        results[dumps[0].slug].problems.append(failure)
    return list(results.values())


def check_dumps(dumps: Sequence[CityDump], *, timeout: int = RESTORE_TIMEOUT_SECONDS) -> list[CheckResult]:
    """Restore the `dumps` (one scratch database per batch archive, with the cities of it under check) and compare
    each city with its manifest. Results in the order of `dumps`."""
    server = Server.from_settings()
    pg_restore = pg_binary("pg_restore", server_version_num(server) // 10000)
    by_archive: dict[Path, list[CityDump]] = {}
    for dump in dumps:
        by_archive.setdefault(dump.archive, []).append(dump)
    checked = {
        result.slug: result
        for group in by_archive.values()
        for result in _check_archive(server, pg_restore, group, timeout=timeout)
    }
    return [checked[dump.slug] for dump in dumps]


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
