"""Recovery to a point in time: a base backup recovered into a scratch cluster with the WAL archive, and one city
restored to a point in time from it (docs/operations.md, "Backups"). Base backups themselves are
madoguchi.base_backups; the per-city dumps and the restore check this builds on, madoguchi.backups and
madoguchi.restore.
"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from django.conf import settings
from psycopg import sql

from madoguchi.backups import (
    RESTORE_TIMEOUT_SECONDS,
    BackupError,
    CityDump,
    Server,
    Target,
    dump_batch,
    new_stamp,
    pg_binary,
    server_version_num,
    sha256_of,
    table_checksums,
)
from madoguchi.base_backups import BaseBackup, base_info, extract_tar, find_tar, utc_now
from madoguchi.restore import city_restore_list, compare
from tenants.models import Municipality

RECOVERY_TIMEOUT_SECONDS = 6 * 3600


def pitr_dir() -> Path:
    return Path(settings.DATA_DIR) / "pitr"


# --- Recovery of a base backup into a scratch cluster ----------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_account(os_user: str | None, hint: Path) -> tuple[int, int] | None:
    """PostgreSQL refuses to run as root: as root, run the scratch server as `os_user`, else as the owner of the
    WAL archive (the account the production server archives as), else as `postgres`."""
    if os.geteuid() != 0:
        return None
    if os_user is None:
        owner = hint.stat().st_uid if hint.exists() else 0
        if owner != 0:
            entry = pwd.getpwuid(owner)
            return entry.pw_uid, entry.pw_gid
        os_user = "postgres"
    try:
        entry = pwd.getpwnam(os_user)
    except KeyError as exc:
        raise BackupError(
            f"running as root and there is no OS user {os_user!r} to run the scratch server"
        ) from exc
    return entry.pw_uid, entry.pw_gid


def _reachable(path: Path, account: tuple[int, int]) -> bool:
    """Whether `account` may traverse every directory above `path` (root's pytest or home directories are 0700)."""
    uid, gid = account
    for parent in path.resolve().parents:
        st = parent.stat()
        if st.st_uid == uid:
            allowed = st.st_mode & 0o100
        elif st.st_gid == gid:
            allowed = st.st_mode & 0o010
        else:
            allowed = st.st_mode & 0o001
        if not allowed:
            return False
    return True


def _chown_tree(root: Path, account: tuple[int, int]) -> None:
    uid, gid = account
    os.chown(root, uid, gid)
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(folder, name), uid, gid)


def _log_tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _recovery_failure(log: Path, archive: Path, target: dt.datetime | None) -> BackupError:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    restored = re.findall(r'restored log file "([0-9A-F]{24})" from archive', text)
    last = restored[-1] if restored else None
    if "recovery ended before configured recovery target was reached" in text:
        return BackupError(
            f"WAL missing: recovery used the whole archive {archive} (last segment restored: {last or 'none'}) "
            f"and did not reach {target.isoformat() if target else 'the target'}: the segments after it are not "
            "archived (yet), or no transaction committed after the target time"
        )
    if "before consistent recovery point" in text:
        return BackupError(
            "the target time is before the end of the base backup: choose an older base backup"
        )
    if "could not locate required checkpoint record" in text or "could not find redo location" in text:
        return BackupError(f"WAL missing: the base backup's first WAL segment is not in {archive}")
    return BackupError(f"the scratch server stopped during recovery:\n{_log_tail(log)}")


@dataclass
class Recovered:
    """A scratch cluster recovered from a base backup and the WAL archive, promoted and serving on a socket."""

    server: Server
    data: Path
    log: Path
    major: int
    unpack_seconds: float  # unpacking the base backup
    seconds: float  # replaying the WAL until promoted
    stopped_at: str | None  # the commit before which recovery stopped, from the server's log

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def recovered_cluster(
    base: BaseBackup | Path,
    wal_archive: Path,
    *,
    target_time: dt.datetime | None,
    dbname: str,
    user: str,
    work_dir: Path | None = None,
    os_user: str | None = None,
    timeout: int = RECOVERY_TIMEOUT_SECONDS,
) -> Iterator[Recovered]:
    """Unpack `base` into a scratch directory, recover it with the archived WAL to `target_time` (to the end of the
    archive when None), promote it and yield it; stop and delete it afterwards, whatever happens.

    The scratch server listens on a Unix socket in its own directory only (no TCP), archives nothing
    (archive_mode=off on its command line, which wins over the backup's postgresql.auto.conf), loads no
    preload libraries, and runs without fsync: it is thrown away after the dump."""
    backup_path = base.path if isinstance(base, BaseBackup) else base
    info = base.info if isinstance(base, BaseBackup) else base_info(backup_path)
    if target_time is not None and info.get("end_time"):
        end = dt.datetime.fromisoformat(info["end_time"])
        if target_time < end:
            raise BackupError(
                f"the target time {target_time.isoformat()} is before the base backup {backup_path.name} ended "
                f"({end.isoformat()}): choose an older base backup"
            )
    if not wal_archive.is_dir():
        raise BackupError(f"no WAL archive directory {wal_archive}")
    base_tar = find_tar(backup_path, "base")
    if base_tar is None:
        raise BackupError(f"no base.tar.gz in {backup_path}")
    if (
        info.get("start_wal")
        and not (wal_archive / info["start_wal"]).exists()
        and find_tar(backup_path, "pg_wal") is None
    ):
        raise BackupError(
            f"WAL missing: the base backup's first segment {info['start_wal']} is not in {wal_archive}"
        )
    account = _server_account(os_user, wal_archive)
    if account is not None:
        for needed in (work_dir or Path(tempfile.gettempdir()), wal_archive):
            if not _reachable(needed / "x", account):
                raise BackupError(
                    f"the scratch server's OS user (uid {account[0]}) cannot reach {needed}: "
                    "choose a --work-dir and a WAL archive path it can traverse"
                )
    scratch = Path(tempfile.mkdtemp(prefix="madoguchi-pitr-", dir=work_dir))
    process: subprocess.Popen[bytes] | None = None
    try:
        unpack_clock = time.monotonic()
        data = scratch / "data"
        extract_tar(base_tar, data)
        wal_tar = find_tar(backup_path, "pg_wal")
        if wal_tar is not None:
            extract_tar(wal_tar, data / "pg_wal")
        (data / "pg_wal").mkdir(exist_ok=True)
        for leftover in ("postmaster.pid", "standby.signal"):
            (data / leftover).unlink(missing_ok=True)
        (data / "recovery.signal").write_text("")
        major = int((data / "PG_VERSION").read_text().strip())
        postgres = pg_binary("postgres", major, exact=True)
        (scratch / "postgresql.conf").write_text(
            "# scratch cluster of madoguchi's city_pitr: see its command line\n"
        )
        (scratch / "pg_hba.conf").write_text("local all all trust\n")
        (scratch / "pg_ident.conf").write_text("")
        data.chmod(0o700)
        if account is not None:
            _chown_tree(scratch, account)
        log = scratch / "server.log"
        port = _free_port()
        # The archive's path quoted for the shell, "%" doubled for PostgreSQL's own placeholders.
        archive_prefix = shlex.quote(f"{wal_archive}/").replace("%", "%%")
        restore = f'cp {archive_prefix}%f "%p"'
        options = {
            "config_file": str(scratch / "postgresql.conf"),
            "hba_file": str(scratch / "pg_hba.conf"),
            "ident_file": str(scratch / "pg_ident.conf"),
            "listen_addresses": "",
            "port": str(port),
            "unix_socket_directories": str(scratch),
            "archive_mode": "off",
            "hot_standby": "off",
            "fsync": "off",
            "shared_preload_libraries": "",
            "logging_collector": "off",
            "cluster_name": "madoguchi-pitr",
            "restore_command": restore,
            "recovery_target_timeline": "latest",
        }
        if target_time is not None:
            options["recovery_target_time"] = target_time.isoformat()
            options["recovery_target_action"] = "promote"
        argv = [str(postgres), "-D", str(data)]
        for key, value in options.items():
            argv += ["-c", f"{key}={value}"]
        unpack_seconds = time.monotonic() - unpack_clock
        started = utc_now()
        with log.open("ab") as log_handle:
            process = subprocess.Popen(  # noqa: S603 (argv built from the backup and fixed options)
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=account[0] if account else None,
                group=account[1] if account else None,
                extra_groups=[] if account else None,
            )
        server = Server(host=str(scratch), port=str(port), user=user, password="", dbname=dbname)
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise _recovery_failure(log, wal_archive, target_time)
            try:
                with server.connect(autocommit=True) as conn:
                    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                if row is not None and not row[0]:
                    break
            except psycopg.OperationalError:
                pass
            if time.monotonic() > deadline:
                raise BackupError(f"recovery did not finish within {timeout} s:\n{_log_tail(log)}")
            time.sleep(0.2)
        stop = re.search(r"recovery stopping before (.+)", log.read_text(encoding="utf-8", errors="replace"))
        yield Recovered(
            server=server,
            data=data,
            log=log,
            major=major,
            unpack_seconds=unpack_seconds,
            seconds=(utc_now() - started).total_seconds(),
            stopped_at=stop.group(1).strip() if stop else None,
        )
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)


# --- One city to a point in time -------------------------------------------------------------------------------


def city_recover_dump(
    municipality: Municipality,
    *,
    base: BaseBackup | Path,
    wal_archive: Path,
    target_time: dt.datetime,
    out_dir: Path | None = None,
    work_dir: Path | None = None,
    os_user: str | None = None,
    timeout: int = RECOVERY_TIMEOUT_SECONDS,
) -> tuple[CityDump, Recovered]:
    """Recover a scratch cluster to `target_time` and dump the city's schema from it into OUT/<run>/<slug>.dump
    with its manifest (a batch of one city, as the nightly dumps write them: `restore_check --dir OUT` checks it)."""
    production = Server.from_settings()
    with recovered_cluster(
        base,
        wal_archive,
        target_time=target_time,
        dbname=production.dbname,
        user=production.user or "postgres",
        work_dir=work_dir,
        os_user=os_user,
        timeout=timeout,
    ) as recovered:
        with recovered.server.connect(autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", [municipality.schema_name]
            ).fetchone()
        if not exists:
            raise BackupError(
                f"{municipality.slug}: schema {municipality.schema_name} did not exist at the target time"
            )
        backup_path = base.path if isinstance(base, BaseBackup) else base
        done = dump_batch(
            recovered.server,
            [Target(municipality.slug, municipality.schema_name)],
            run_dir=(out_dir or pitr_dir()) / new_stamp(),
            name=municipality.slug,
            extra={
                "recovery_target_time": target_time.isoformat(),
                "recovery_stopped_before": recovered.stopped_at,
                "base_backup": str(backup_path),
            },
        )
    return done[0], recovered


def table_counts(server: Server, schema: str) -> dict[str, int]:
    with server.connect() as conn, conn.cursor() as cursor:
        return {name: int(t["rows"]) for name, t in table_checksums(cursor, schema).items()}


@dataclass
class SwapResult:
    schema: str
    aside: str
    before: dict[str, int]
    after: dict[str, int]
    problems: list[str]


def city_swap(municipality: Municipality, dump: CityDump, *, stamp: str | None = None) -> SwapResult:
    """Replace a suspended city's schema by its `dump` (a batch archive's city), in ONE transaction: the current
    schema is renamed to <schema>_replaced_<stamp> (kept), the city restored alone from the archive (pg_restore's
    SQL through psql --single-transaction),
    and the restored row counts checked against the dump's manifest before the commit. Any error rolls all of it
    back: never a half-swap."""
    municipality.refresh_from_db()
    if municipality.status != Municipality.Status.SUSPENDED:
        raise BackupError(
            f"{municipality.slug} is {municipality.status}: suspend the city first (its staff and residents must not write during the swap)"
        )
    schema = municipality.schema_name
    if dump.slug != municipality.slug or dump.schema != schema:
        raise BackupError(f"{dump.archive} holds {dump.slug} (schema {dump.schema!r}), not {schema!r}")
    if sha256_of(dump.archive) != dump.info.get("sha256"):
        raise BackupError(f"{dump.archive} differs from the one its manifest describes (sha256)")
    server = Server.from_settings()
    major = server_version_num(server) // 10000
    pg_restore, psql = pg_binary("pg_restore", major), pg_binary("psql", major)
    aside = f"{schema}_replaced_{stamp or utc_now().strftime('%Y%m%dT%H%M%S')}"
    if len(aside) > 63:
        raise BackupError(f"the schema name {aside} is too long for PostgreSQL (63 bytes)")
    before = table_counts(server, schema)
    with server.connect(autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [aside]).fetchone():
            raise BackupError(f"schema {aside} exists already")
        prologue = (
            sql.SQL("SET lock_timeout = '30s';\nALTER SCHEMA {} RENAME TO {};\n")
            .format(sql.Identifier(schema), sql.Identifier(aside))
            .as_string(conn)
        )
        checks = [
            sql.SQL(
                "  SELECT count(*) INTO n FROM {table};\n"
                "  IF n <> {rows} THEN RAISE EXCEPTION 'restored % rows into %, the dump''s manifest says %', "
                "n, {name}, {rows}; END IF;\n"
            ).format(
                table=sql.Identifier(schema, name), rows=sql.Literal(int(t["rows"])), name=sql.Literal(name)
            )
            for name, t in sorted(dump.tables.items())
        ]
        epilogue = (
            sql.SQL("\nDO $check$\nDECLARE n bigint;\nBEGIN\n{}END\n$check$;\n")
            .format(sql.SQL("").join(checks))
            .as_string(conn)
        )
    with (
        tempfile.TemporaryFile() as psql_out,
        tempfile.TemporaryFile() as restore_err,
        city_restore_list(pg_restore, dump.archive, schema) as listing,
    ):
        restore = subprocess.Popen(  # noqa: S603 (argv of a PostgreSQL binary and the dump file)
            [str(pg_restore), "--file=-", f"--use-list={listing}", str(dump.archive)],
            stdout=subprocess.PIPE,
            stderr=restore_err,
        )
        apply = subprocess.Popen(  # noqa: S603 (argv of a PostgreSQL binary)
            [
                str(psql),
                "-X",
                "-q",
                "--no-password",
                "-v",
                "ON_ERROR_STOP=1",
                "--single-transaction",
                "-f",
                "-",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=psql_out,
            env=server.env(),
        )
        assert restore.stdout is not None
        assert apply.stdin is not None
        try:
            apply.stdin.write(prologue.encode("utf-8"))
            for chunk in iter(lambda: restore.stdout.read(1 << 16), b""):  # type: ignore[union-attr]
                apply.stdin.write(chunk)
            apply.stdin.write(epilogue.encode("utf-8"))
            apply.stdin.close()
        except BrokenPipeError:
            restore.kill()
        restore_rc = restore.wait(timeout=RESTORE_TIMEOUT_SECONDS)
        apply_rc = apply.wait(timeout=RESTORE_TIMEOUT_SECONDS)
        psql_out.seek(0)
        restore_err.seek(0)
        if restore_rc != 0 or apply_rc != 0:
            detail = psql_out.read().decode("utf-8", "replace") + restore_err.read().decode(
                "utf-8", "replace"
            )
            raise BackupError(f"the swap was rolled back, {schema} is unchanged: {detail.strip()[-2000:]}")
    with server.connect() as conn, conn.cursor() as cursor:
        restored = table_checksums(cursor, schema)
    return SwapResult(
        schema=schema,
        aside=aside,
        before=before,
        after={name: int(t["rows"]) for name, t in restored.items()},
        problems=compare(dump.tables, restored),
    )
