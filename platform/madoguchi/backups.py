"""Per-city logical dumps, batched: one `pg_dump -n a -n b ...` per batch of cities, a manifest per city.

`pg_dump` reads the whole catalog whatever it dumps (95-101 s per run at 1,741 cities, docs/scale.md), so the
nightly run dumps cities in batches (DEFAULT_BATCH_SIZE, settings.BACKUP_BATCH_SIZE, `city_dump --batch-size`),
each batch one catalog read and one snapshot. Layout of the backup directory:

    <run>/batch-0001.dump   one run of city_dump (<run>: its UTC start, e.g. 20261206T021500.000000Z): the batch's
    <run>/batch-0001.json   archive (custom format) and its manifest, the manifest written last: a batch counts
                            only once it exists. Per city: its schema, row counts and an md5 per table, computed in
                            the very snapshot pg_dump read (a REPEATABLE READ transaction exports it, pg_dump is
                            given `--snapshot`, each city's checksums import it).
    offboarded/<run>/<slug>.dump, .json   city_offboard's final export of one city: never pruned.

One city restores alone from its batch's archive: pg_restore of the city's schema entry and of what `-n <schema>`
selects (`city_restore_list`), as the restore check (madoguchi.restore) and city_pitr --apply do. Retention keeps
each existing city's newest `keep` dumps; a batch goes once no existing city needs it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection
from psycopg import sql
from psycopg.conninfo import make_conninfo

from madoguchi.backup_files import (
    held_partial,
    remove_if_empty,
    remove_stale_partials,
    sha256_of,
    write_atomically,
)
from tenants.models import Municipality
from tenants.selectors import municipality_list

MANIFEST_VERSION = 2  # 1: one file per city; 2: a batch of cities per archive
DEFAULT_KEEP = 14
DEFAULT_BATCH_SIZE = 250
# A batch's pg_dump holds an ACCESS SHARE lock on each of its tables until it ends: a batch may take at most this
# share of the server's lock table (max_locks_per_transaction x (max_connections + max_prepared_transactions)).
LOCK_TABLE_SHARE = 0.5
MAX_ROUNDS = 5  # cities created while a run goes are dumped in further rounds, at most this many
DUMP_TIMEOUT_SECONDS = 3600
RESTORE_TIMEOUT_SECONDS = 1800
# Run directories and archive names are UTC timestamps that sort as text: 20261206T164500.123456Z.
STAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
_RUN = re.compile(r"^\d{8}T\d{6}\.\d{6}Z$")
OFFBOARDED = "offboarded"


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


# --- Dump ------------------------------------------------------------------------------------------------------


def backup_dir() -> Path:
    return Path(settings.BACKUP_DIR)


def default_batch_size() -> int:
    return int(getattr(settings, "BACKUP_BATCH_SIZE", DEFAULT_BATCH_SIZE))


def new_stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime(STAMP_FORMAT)


# The nightly run's cities: an offboarding city stays backed up until city_offboard has taken its final export.
DUMPED_STATUSES = (Municipality.Status.ACTIVE, Municipality.Status.OFFBOARDING)


def cities(slugs: Sequence[str] = ()) -> list[Municipality]:
    """The given cities (any status), or every active or offboarding one."""
    qs = municipality_list()
    if slugs:
        found = list(qs.filter(slug__in=slugs).order_by("slug"))
        missing = sorted(set(slugs) - {m.slug for m in found})
        if missing:
            raise BackupError(f"unknown cities: {', '.join(missing)}")
        return found
    return list(qs.filter(status__in=DUMPED_STATUSES).order_by("slug"))


@dataclass(frozen=True)
class Target:
    slug: str
    schema: str


@dataclass
class CityDump:
    """One city's dump: the batch archive holding it, the batch's manifest, and the city's part of it."""

    slug: str
    schema: str
    archive: Path
    tables: dict[str, dict[str, Any]]
    info: dict[str, Any]  # the batch manifest's own keys (sha256, created_at, recovery_target_time, ...)

    @property
    def manifest(self) -> Path:
        return self.archive.with_suffix(".json")

    @property
    def rows(self) -> int:
        return sum(int(t["rows"]) for t in self.tables.values())

    @property
    def label(self) -> str:
        return f"{self.archive.parent.name}/{self.archive.name}"


def read_batch(archive: Path) -> list[CityDump]:
    """The cities of a batch archive, from the manifest beside it."""
    manifest = archive.with_suffix(".json")
    try:
        info = json.loads(manifest.read_text(encoding="utf-8"))
        entries = info.pop("cities")
        return [
            CityDump(
                slug=slug, schema=str(entry["schema"]), archive=archive, tables=entry["tables"], info=info
            )
            for slug, entry in sorted(entries.items())
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BackupError(f"{manifest}: manifest unreadable: {exc!r}") from exc


def city_dump_in(archive: Path, slug: str) -> CityDump:
    """`slug`'s dump in the batch archive `archive` (city_pitr --from-dump)."""
    if not archive.is_file():
        raise BackupError(f"no dump {archive}")
    for entry in read_batch(archive):
        if entry.slug == slug:
            return entry
    raise BackupError(f"{archive} holds no dump of {slug}")


def complete_batches(root: Path) -> list[Path]:
    """The batch archives of every run under `root` that have their manifest, oldest run first."""
    if not root.is_dir():
        return []
    runs = sorted(p for p in root.iterdir() if p.is_dir() and _RUN.match(p.name))
    return [a for run in runs for a in sorted(run.glob("*.dump")) if a.with_suffix(".json").is_file()]


@dataclass
class Scan:
    per_city: dict[str, list[CityDump]] = field(default_factory=dict)  # oldest first
    unreadable: list[str] = field(default_factory=list)  # manifests that cannot be read (kept, reported)


def scan_dumps(root: Path) -> Scan:
    found = Scan()
    for archive in complete_batches(root):
        try:
            entries = read_batch(archive)
        except BackupError as exc:
            found.unreadable.append(str(exc))
            continue
        for entry in entries:
            found.per_city.setdefault(entry.slug, []).append(entry)
    return found


def lock_budget(conn: psycopg.Connection[Any]) -> int:
    """Table locks one batch may hold: LOCK_TABLE_SHARE of the server's shared lock table."""
    row = conn.execute(
        "SELECT current_setting('max_locks_per_transaction')::int * (current_setting('max_connections')::int "
        "+ current_setting('max_prepared_transactions')::int)"
    ).fetchone()
    assert row is not None
    return max(1, int(int(row[0]) * LOCK_TABLE_SHARE))


def plan_batches(server: Server, targets: Sequence[Target], batch_size: int) -> list[list[Target]]:
    """Consecutive batches of at most `batch_size` cities whose tables and sequences (pg_dump locks each until it
    ends: 44 + 41 a city today) fit in `lock_budget` (a city larger than that is a batch alone)."""
    with server.connect(autocommit=True) as conn:
        budget = lock_budget(conn)
        counts = dict(
            conn.execute(
                "SELECT n.nspname, count(c.oid) FROM pg_namespace n LEFT JOIN pg_class c "
                "ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'S', 'm', 'f') "
                "WHERE n.nspname = ANY(%s) GROUP BY n.nspname",
                [[t.schema for t in targets]],
            ).fetchall()
        )
    batches: list[list[Target]] = []
    current: list[Target] = []
    locks = 0
    for target in targets:
        need = int(counts.get(target.schema, 0))
        if current and (len(current) >= batch_size or locks + need > budget):
            batches.append(current)
            current, locks = [], 0
        current.append(target)
        locks += need
    if current:
        batches.append(current)
    return batches


@contextmanager
def _exported_snapshot(server: Server) -> Iterator[tuple[str, psycopg.Cursor[Any]]]:
    """A REPEATABLE READ transaction kept open while pg_dump and the manifest's checksums read its snapshot."""
    with server.connect() as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            row = cursor.fetchone()
            assert row is not None
            yield str(row[0]), cursor
        conn.rollback()


def _checksums_in_snapshot(server: Server, snapshot: str, schemas: Sequence[str]) -> dict[str, Any]:
    """table_checksums of each schema in the exported snapshot, one transaction per schema (so that the locks of
    one city's tables are held at a time, not the batch's)."""
    result = {}
    with server.connect() as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        for schema in schemas:
            with conn.cursor() as cursor:
                cursor.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
                result[schema] = table_checksums(cursor, schema)
            conn.rollback()
    return result


def dump_batch(
    server: Server,
    targets: Sequence[Target],
    *,
    run_dir: Path,
    name: str,
    extra: dict[str, Any] | None = None,
) -> list[CityDump]:
    """One pg_dump of the `targets`' schemas (`-n` each) into run_dir/<name>.dump and its manifest <name>.json
    (`extra` added to it). The server may be the production one or a scratch cluster recovered to a point in time.
    A city whose schema is gone by the snapshot (offboarded meanwhile) is left out."""
    if not targets:
        return []
    server_version = server_version_num(server)
    pg_dump = pg_binary("pg_dump", server_version // 10000)
    archive = run_dir / f"{name}.dump"
    manifest_path = archive.with_suffix(".json")
    partial = run_dir / f".{archive.name}.partial"
    what = f"{name} ({len(targets)} cities)" if len(targets) > 1 else targets[0].slug
    try:
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Held from before pg_dump until the rename: remove_stale_partials never takes a live dump's file.
        with held_partial(partial):
            with _exported_snapshot(server) as (snapshot, cursor):
                cursor.execute(
                    "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [[t.schema for t in targets]]
                )
                present = {str(row[0]) for row in cursor.fetchall()}
                targets = [t for t in targets if t.schema in present]
                if not targets:
                    return []
                proc = subprocess.run(  # noqa: S603 (argv built from the settings and the schema names)
                    [
                        str(pg_dump),
                        "--format=custom",
                        *(f"--schema={t.schema}" for t in targets),
                        "--strict-names",
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
                        f"{what}: pg_dump failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
                    )
                checksums = _checksums_in_snapshot(server, snapshot, [t.schema for t in targets])
            with partial.open("rb") as handle:
                os.fsync(handle.fileno())
            size, sha256 = partial.stat().st_size, sha256_of(partial)
            os.replace(partial, archive)
    except OSError as exc:  # a full disk (ENOSPC), a quota, a directory we may not write
        raise BackupError(f"{what}: could not write the dump in {run_dir}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    info = {
        "version": MANIFEST_VERSION,
        "created_at": run_dir.name if _RUN.match(run_dir.name) else new_stamp(),
        "server_version_num": server_version,
        "pg_dump": str(pg_dump),
        "same_snapshot": True,
        "dump": archive.name,
        "bytes": size,
        "sha256": sha256,
        **(extra or {}),
    }
    cities_part = {t.slug: {"schema": t.schema, "tables": checksums[t.schema]} for t in targets}
    try:
        write_atomically(
            manifest_path,
            json.dumps({**info, "cities": cities_part}, indent=2, sort_keys=True).encode("utf-8"),
        )
    except OSError as exc:
        # Without its manifest the archive does not count (complete_batches); removed so that it does not stay,
        # filling the disk, as a file that looks finished.
        archive.unlink(missing_ok=True)
        raise BackupError(f"{what}: could not write the manifest in {run_dir}: {exc}") from exc
    return [
        CityDump(slug=t.slug, schema=t.schema, archive=archive, tables=checksums[t.schema], info=info)
        for t in targets
    ]


@dataclass
class RunResult:
    run: Path
    dumps: list[CityDump] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # slug: the error
    gone: list[str] = field(default_factory=list)  # listed, but the schema was deleted before its batch
    batches: int = 0
    removed: list[Path] = field(default_factory=list)  # archives deleted by retention
    stale: list[Path] = field(default_factory=list)  # .partial files of runs killed outright, removed


def dump_cities(
    targets: Sequence[Municipality] | None = None,
    *,
    directory: Path | None = None,
    keep: int = DEFAULT_KEEP,
    batch_size: int | None = None,
    lister: Callable[[], Sequence[Municipality]] = cities,
    progress: Callable[[list[CityDump]], None] | None = None,
) -> RunResult:
    """Dump `targets` (None: every active or offboarding city, `lister`) in batches into a new run directory, then apply
    retention. Without targets, `lister` is asked again once the batches are done and the cities created meanwhile
    are dumped too (up to MAX_ROUNDS rounds). A batch that fails marks its cities failed; the others go on."""
    if keep < 1:
        raise BackupError("keep must be at least 1")
    size = batch_size if batch_size is not None else default_batch_size()
    if size < 1:
        raise BackupError("the batch size must be at least 1")
    root = directory or backup_dir()
    server = Server.from_settings()
    started = time.time()
    result = RunResult(run=root / new_stamp())
    result.stale = remove_stale_partials(root, before=started)
    listed = list(targets) if targets is not None else list(lister())
    seen: set[str] = set()
    for _round in range(MAX_ROUNDS):
        todo = [Target(m.slug, m.schema_name) for m in listed if m.slug not in seen]
        if not todo:
            break
        seen.update(t.slug for t in todo)
        for batch in plan_batches(server, todo, size):
            result.batches += 1
            try:
                done = dump_batch(server, batch, run_dir=result.run, name=f"batch-{result.batches:04d}")
            except BackupError as exc:
                result.failed.update((t.slug, str(exc)) for t in batch)
                continue
            dumped = {d.slug for d in done}
            result.gone.extend(t.slug for t in batch if t.slug not in dumped)
            result.dumps.extend(done)
            if progress is not None:
                progress(done)
        if targets is not None:
            break
        listed = list(lister())
    remove_if_empty(result.run)
    result.removed = apply_retention(root, keep=keep)
    return result


def export_city(municipality: Municipality, *, directory: Path | None = None) -> CityDump:
    """A single `pg_dump -n` of one city into DIR/offboarded/<run>/<slug>.dump (city_offboard's final export,
    which no retention touches)."""
    run_dir = (directory or backup_dir()) / OFFBOARDED / new_stamp()
    done = dump_batch(
        Server.from_settings(),
        [Target(municipality.slug, municipality.schema_name)],
        run_dir=run_dir,
        name=municipality.slug,
    )
    if not done:
        raise BackupError(f"{municipality.slug}: schema {municipality.schema_name} does not exist")
    return done[0]


def apply_retention(root: Path, *, keep: int, holders: Sequence[str] | None = None) -> list[Path]:
    """Keep the newest `keep` dumps of each city in `holders` (default: every city that exists); delete each batch
    (archive and manifest) none of them needs any more, then run directories left empty. A batch whose manifest
    cannot be read is kept (the restore check reports it). Returns the deleted archives."""
    if keep < 1:
        raise BackupError("keep must be at least 1")
    if holders is None:
        holders = list(municipality_list().values_list("slug", flat=True))
    found = scan_dumps(root)
    needed = {d.archive for slug in holders for d in found.per_city.get(slug, [])[-keep:]}
    readable = {d.archive for dumps in found.per_city.values() for d in dumps}
    removed = []
    for archive in sorted(readable - needed):
        archive.with_suffix(".json").unlink(missing_ok=True)  # the manifest first: no longer a complete batch
        archive.unlink(missing_ok=True)
        removed.append(archive)
        remove_if_empty(archive.parent)
    return removed
