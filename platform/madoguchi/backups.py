"""Per-city logical dumps (`pg_dump -n <schema>`) with a manifest, retention, and the restore check.

A dump is DIR/<slug>/<slug>-<UTC timestamp>.dump (custom format) with DIR/<slug>/<slug>-<timestamp>.json beside it:
row counts and an md5 per table, computed in the very snapshot pg_dump reads (a REPEATABLE READ transaction exports
it and pg_dump is given `--snapshot`). Both files are written under a temporary name and renamed, the manifest last:
a dump counts only once its manifest exists.

The restore check restores each city's newest dump into a scratch database on the same server and compares.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tenants.models import Municipality
from tenants.selectors import municipality_list

MANIFEST_VERSION = 1
DEFAULT_KEEP = 14
DUMP_TIMEOUT_SECONDS = 3600
RESTORE_TIMEOUT_SECONDS = 1800
# Dump file names: <slug>-20261206T164500.123456Z.dump; the timestamp sorts as text.
STAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
_NAME = re.compile(r"^(?P<slug>[a-z0-9_-]+)-(?P<stamp>\d{8}T\d{6}\.\d{6}Z)\.dump$")


class BackupError(Exception):
    """A dump or a restore check that could not be done (the message names the city and the step)."""


# --- Connection and binaries -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """How to reach the database server: libpq keywords, the password kept out of every message and argv."""

    host: str
    port: str
    user: str
    password: str
    dbname: str

    @classmethod
    def from_settings(cls) -> Server:
        # connection.settings_dict, not settings.DATABASES: under pytest-django it names the test database.
        db = connection.settings_dict
        # A URL like postgresql://u@/db?host=/socket/dir puts the socket directory in OPTIONS (make prod-local names
        # the embedded server that way).
        options = db.get("OPTIONS") or {}
        return cls(
            host=str(db.get("HOST") or options.get("host") or ""),
            port=str(db.get("PORT") or ""),
            user=str(db.get("USER") or ""),
            password=str(db.get("PASSWORD") or ""),
            dbname=str(db["NAME"]),
        )

    def connect(self, dbname: str | None = None, *, autocommit: bool = False) -> psycopg.Connection[Any]:
        params = {"host": self.host, "port": self.port, "user": self.user, "password": self.password}
        kwargs = {key: value for key, value in params.items() if value}
        conninfo = make_conninfo("", dbname=dbname or self.dbname, **kwargs)
        return psycopg.connect(conninfo, autocommit=autocommit)

    def env(self, dbname: str | None = None) -> dict[str, str]:
        """The environment of pg_dump/pg_restore: libpq variables (the password never on a command line)."""
        env = dict(os.environ)
        for key in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSERVICE", "PGOPTIONS"):
            env.pop(key, None)
        values = {"PGHOST": self.host, "PGPORT": self.port, "PGUSER": self.user, "PGPASSWORD": self.password}
        env.update({key: value for key, value in values.items() if value})
        env["PGDATABASE"] = dbname or self.dbname
        return env


def server_version_num(server: Server) -> int:
    with server.connect(autocommit=True) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
    assert row is not None
    return int(row[0])


def _binary_major(path: Path) -> int | None:
    try:
        out = subprocess.run(  # noqa: S603 (a fixed argv of a PostgreSQL binary)
            [str(path), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\) (\d+)", out)
    return int(match.group(1)) if match else None


def _pgserver_bin() -> Path | None:
    try:
        import pgserver
    except ImportError:
        return None
    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def pg_binary(name: str, server_major: int, *, exact: bool = False) -> Path:
    """A PostgreSQL binary matching the server: the embedded server's own, else /usr/lib/postgresql/<major>/bin,
    else the pgserver package's (PostgreSQL 16) or the one on PATH. Clients (pg_dump, pg_restore, psql,
    pg_basebackup) may be newer than the server; the server itself (postgres) must be `exact`ly its major version."""
    embedded_bin = _pgserver_bin()
    candidates: list[Path] = []
    if embedded_bin is not None and getattr(settings, "EMBEDDED_DATABASE", False):
        candidates.append(embedded_bin / name)
    candidates.append(Path(f"/usr/lib/postgresql/{server_major}/bin/{name}"))
    if embedded_bin is not None:
        candidates.append(embedded_bin / name)
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file():
            major = _binary_major(candidate)
            if major is not None and (major == server_major if exact else major >= server_major):
                return candidate
    wanted = f"PostgreSQL {server_major}" if exact else f"PostgreSQL {server_major} or newer"
    raise BackupError(f"no {name} of {wanted} (looked at {[str(c) for c in candidates]})")


# --- Manifest: row counts and checksums per table --------------------------------------------------------------


def table_checksums(cursor: psycopg.Cursor[Any], schema: str) -> dict[str, dict[str, Any]]:
    """{table: {"rows": n, "md5": hex}} of every ordinary table of `schema`, rows ordered by primary key (by the
    whole row where there is none); md5 of an empty table is that of the empty string. The text of a row depends on
    the session's settings (a timestamptz prints in its TimeZone): they are fixed for the transaction, so that the
    production server, a scratch database and a recovered scratch cluster all write the same text."""
    cursor.execute(
        "SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, YMD', true), "
        "set_config('IntervalStyle', 'postgres', true), set_config('extra_float_digits', '1', true), "
        "set_config('bytea_output', 'hex', true)"
    )
    cursor.execute(
        "SELECT c.relname, "
        "  (SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey::int2[], a.attnum)) "
        "     FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "    WHERE i.indrelid = c.oid AND i.indisprimary) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname",
        [schema],
    )
    tables = cursor.fetchall()
    result: dict[str, dict[str, Any]] = {}
    for name, pk in tables:
        order = (
            sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(col)) for col in pk)
            if pk
            else sql.SQL("t::text")
        )
        query = sql.SQL(
            "SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY {order})), md5('')) FROM {table} t"
        ).format(order=order, table=sql.Identifier(schema, name))
        cursor.execute(query)
        row = cursor.fetchone()
        assert row is not None
        result[name] = {"rows": int(row[0]), "md5": str(row[1])}
    return result


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- Dump ------------------------------------------------------------------------------------------------------


@dataclass
class DumpResult:
    slug: str
    dump: Path
    manifest: Path
    tables: int
    rows: int
    removed: list[Path] = field(default_factory=list)


def backup_dir() -> Path:
    return Path(settings.BACKUP_DIR)


def cities(slugs: Sequence[str] = ()) -> list[Municipality]:
    """The given cities (any status), or every active one."""
    qs = municipality_list()
    if slugs:
        found = list(qs.filter(slug__in=slugs).order_by("slug"))
        missing = sorted(set(slugs) - {m.slug for m in found})
        if missing:
            raise BackupError(f"unknown cities: {', '.join(missing)}")
        return found
    return list(qs.filter(status=Municipality.Status.ACTIVE).order_by("slug"))


@contextmanager
def _exported_snapshot(server: Server) -> Iterator[tuple[str, psycopg.Cursor[Any]]]:
    """A REPEATABLE READ transaction kept open; pg_dump reads its exported snapshot while the manifest is computed
    in the same one, so both see exactly the same rows."""
    with server.connect() as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            row = cursor.fetchone()
            assert row is not None
            yield str(row[0]), cursor
        conn.rollback()


def city_dump(
    municipality: Municipality, *, directory: Path | None = None, keep: int = DEFAULT_KEEP
) -> DumpResult:
    """Dump one city's schema with its manifest, then keep its newest `keep` dumps."""
    if keep < 1:
        raise BackupError("keep must be at least 1")
    city_dir = (directory or backup_dir()) / municipality.slug
    result = schema_dump(
        Server.from_settings(), slug=municipality.slug, schema=municipality.schema_name, city_dir=city_dir
    )
    result.removed = apply_retention(city_dir, keep=keep)
    return result


def schema_dump(
    server: Server, *, slug: str, schema: str, city_dir: Path, extra: dict[str, Any] | None = None
) -> DumpResult:
    """Dump `schema` of `server` into city_dir/<slug>-<timestamp>.dump with its manifest (`extra` is added to the
    manifest). The server may be the production one or a scratch cluster recovered to a point in time."""
    server_version = server_version_num(server)
    pg_dump = pg_binary("pg_dump", server_version // 10000)
    stamp = dt.datetime.now(dt.UTC).strftime(STAMP_FORMAT)
    dump_path = city_dir / f"{slug}-{stamp}.dump"
    manifest_path = dump_path.with_suffix(".json")
    partial = city_dir / f".{dump_path.name}.partial"
    try:
        city_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _exported_snapshot(server) as (snapshot, cursor):
            proc = subprocess.run(  # noqa: S603 (argv built from the settings and the schema name)
                [
                    str(pg_dump),
                    "--format=custom",
                    f"--schema={schema}",
                    f"--snapshot={snapshot}",
                    f"--file={partial}",
                    "--no-password",
                ],
                env=server.env(),
                capture_output=True,
                text=True,
                timeout=DUMP_TIMEOUT_SECONDS,
                check=False,
            )
            if proc.returncode != 0:
                raise BackupError(
                    f"{slug}: pg_dump failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
                )
            tables = table_checksums(cursor, schema)
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        size, sha256 = partial.stat().st_size, sha256_of(partial)
        os.replace(partial, dump_path)
    except OSError as exc:  # a full disk (ENOSPC), a quota, a directory we may not write
        raise BackupError(f"{slug}: could not write the dump in {city_dir}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    manifest = {
        "version": MANIFEST_VERSION,
        "city": slug,
        "schema": schema,
        "created_at": stamp,
        "server_version_num": server_version,
        "pg_dump": str(pg_dump),
        "same_snapshot": True,
        "dump": dump_path.name,
        "bytes": size,
        "sha256": sha256,
        "tables": tables,
        **(extra or {}),
    }
    try:
        write_atomically(manifest_path, json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8"))
    except OSError as exc:
        # Without its manifest the dump does not count (complete_dumps); removed so that it does not stay,
        # filling the disk, as a file that looks finished.
        dump_path.unlink(missing_ok=True)
        raise BackupError(f"{slug}: could not write the manifest in {city_dir}: {exc}") from exc
    return DumpResult(
        slug=slug,
        dump=dump_path,
        manifest=manifest_path,
        tables=len(tables),
        rows=sum(t["rows"] for t in tables.values()),
    )


def complete_dumps(city_dir: Path) -> list[Path]:
    """The city's dumps that have their manifest, oldest first."""
    dumps = [p for p in city_dir.glob("*.dump") if _NAME.match(p.name) and p.with_suffix(".json").is_file()]
    return sorted(dumps, key=lambda p: p.name)


def apply_retention(city_dir: Path, *, keep: int) -> list[Path]:
    """Delete all but the newest `keep` complete dumps (and their manifests); returns the deleted dumps."""
    dumps = complete_dumps(city_dir)
    old = dumps[:-keep] if len(dumps) > keep else []
    for dump in old:
        dump.with_suffix(".json").unlink(missing_ok=True)
        dump.unlink(missing_ok=True)
    return old


# --- Restore check ---------------------------------------------------------------------------------------------


@dataclass
class CheckResult:
    slug: str
    dump: Path | None
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


def _restore_one(server: Server, pg_restore: Path, dump: Path, *, timeout: int) -> CheckResult:
    slug = dump.parent.name
    result = CheckResult(slug=slug, dump=dump)
    try:
        manifest = json.loads(dump.with_suffix(".json").read_text(encoding="utf-8"))
        expected: dict[str, dict[str, Any]] = manifest["tables"]
        schema = str(manifest["schema"])
    except (OSError, ValueError, KeyError) as exc:
        result.problems.append(f"manifest unreadable: {exc}")
        return result
    result.tables = len(expected)
    result.rows = sum(int(t["rows"]) for t in expected.values())
    if sha256_of(dump) != manifest.get("sha256"):
        result.problems.append("the dump file differs from the one the manifest describes (sha256)")
        return result
    scratch = f"madoguchi_restore_check_{secrets.token_hex(6)}"
    with server.connect(autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(scratch)))
        try:
            proc = subprocess.run(  # noqa: S603 (argv built from the settings and a file of the backup directory)
                [
                    str(pg_restore),
                    "--exit-on-error",
                    "--no-owner",
                    "--no-privileges",
                    "--no-password",
                    f"--dbname={scratch}",
                    str(dump),
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
                restored = table_checksums(cursor, schema)
                cursor.execute(
                    "SELECT nspname FROM pg_namespace WHERE nspname <> ALL(%s) "
                    "AND nspname NOT LIKE 'pg\\_%%' AND nspname <> 'information_schema'",
                    [[schema, "public"]],
                )
                others = [row[0] for row in cursor.fetchall()]
            if others:
                result.problems.append(f"the dump holds other schemas too: {', '.join(sorted(others))}")
            result.problems.extend(compare(expected, restored))
        except subprocess.TimeoutExpired:
            result.problems.append(f"pg_restore took longer than {timeout} s")
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
    return result


def restore_check(
    *, directory: Path | None = None, slugs: Sequence[str] = (), timeout: int = RESTORE_TIMEOUT_SECONDS
) -> list[CheckResult]:
    """Restore each city's newest complete dump into a scratch database and compare it with its manifest."""
    root = directory or backup_dir()
    if not root.is_dir():
        raise BackupError(f"no backup directory {root}")
    city_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if slugs:
        city_dirs = [root / slug for slug in slugs]
    if not city_dirs:
        raise BackupError(f"no city dumps under {root}")
    server = Server.from_settings()
    pg_restore = pg_binary("pg_restore", server_version_num(server) // 10000)
    results = []
    for city_dir in city_dirs:
        dumps = complete_dumps(city_dir) if city_dir.is_dir() else []
        if not dumps:
            results.append(CheckResult(slug=city_dir.name, dump=None, problems=["no complete dump"]))
            continue
        results.append(_restore_one(server, pg_restore, dumps[-1], timeout=timeout))
    return results
