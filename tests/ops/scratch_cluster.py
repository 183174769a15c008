"""A scratch PostgreSQL primary for the base backup and PITR tests: initdb'd here, archiving its WAL with
ops/backup/archive-wal, listening on 127.0.0.1 in ports 18600-18699, seeded with a copy of the test database (the
app's real schemas: public, the template, ageo, okegawa). Never the shared server on 5432: that one archives nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from madoguchi.backups import BackupError, Server, pg_binary, server_version_num

ROOT = Path(__file__).resolve().parents[2]
ARCHIVE_WAL = ROOT / "ops" / "backup" / "archive-wal"
PORTS = range(18600, 18700)
NEEDED = ("initdb", "pg_ctl", "postgres", "pg_basebackup", "pg_verifybackup", "pg_waldump", "pg_dump", "psql")


def _account() -> tuple[int, int] | None:
    """PostgreSQL refuses to run as root: as root, the scratch server runs as `postgres` (Debian's package user)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root without an OS user 'postgres' to run a scratch PostgreSQL")
    return entry.pw_uid, entry.pw_gid


def _port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port in 18600-18699 for a scratch PostgreSQL")


def bindir_for(major: int) -> Path:
    """The directory of the PostgreSQL `major` binaries, or skip the test with the reason."""
    try:
        bindir = pg_binary("postgres", major, exact=True).parent
    except BackupError as exc:
        pytest.skip(f"no PostgreSQL {major} server binaries for a scratch cluster: {exc}")
    missing = [name for name in NEEDED if not (bindir / name).is_file()]
    if missing:
        pytest.skip(f"{bindir} lacks {', '.join(missing)}")
    return bindir


class PrimaryCluster:
    def __init__(self, root: Path, bindir: Path) -> None:
        self.root = root
        self.bindir = bindir
        self.data = root / "data"
        self.archive = root / "wal-archive"
        self.log = root / "server.log"
        self.port = _port()
        self.account = _account()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/madoguchi"

    def server(self, dbname: str = "madoguchi") -> Server:
        return Server(host="127.0.0.1", port=str(self.port), user="postgres", password="", dbname=dbname)

    def _run(self, *argv: str, timeout: int = 120) -> None:
        subprocess.run(
            argv,
            check=True,
            capture_output=True,
            timeout=timeout,
            cwd=self.root,
            user=self.account[0] if self.account else None,
            group=self.account[1] if self.account else None,
            extra_groups=[] if self.account else None,
        )

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.archive.mkdir()
        # The archiver runs as the server's account: give it its own copy of the script and the archive.
        script = self.root / "archive-wal"
        shutil.copy2(ARCHIVE_WAL, script)
        if self.account:
            for path in (self.root, self.archive, script):
                os.chown(path, *self.account)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.root}'\n"
                "wal_level = replica\narchive_mode = on\n"
                f"archive_command = '{script} %p %f {self.archive}'\n"
                "fsync = off\nmax_wal_senders = 4\nshared_buffers = 32MB\n"
            )
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start"
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(
                str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"
            )

    def seed_from(self, source: Server) -> None:
        """A copy of `source` (the test database) as database `madoguchi`."""
        dump = self.root / "seed.dump"
        major = server_version_num(source) // 10000
        subprocess.run(
            [str(pg_binary("pg_dump", major)), "--format=custom", f"--file={dump}", "--no-password"],
            env=source.env(),
            check=True,
            capture_output=True,
            timeout=120,
        )
        with self.server("postgres").connect(autocommit=True) as conn:
            conn.execute("CREATE DATABASE madoguchi")
        subprocess.run(
            [
                str(self.bindir / "pg_restore"),
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "-d",
                "madoguchi",
                str(dump),
            ],
            env=self.server().env(),
            check=True,
            capture_output=True,
            timeout=120,
        )
        dump.unlink()

    def switch_and_wait_archived(self, timeout: float = 30) -> str:
        """Close the current WAL segment and wait until the archiver has it: everything written so far is archived."""
        with self.server().connect(autocommit=True) as conn:
            row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
            assert row is not None
            wanted = str(row[0])
            deadline = time.monotonic() + timeout
            while True:
                done = conn.execute(
                    "SELECT last_archived_wal >= %s FROM pg_stat_archiver", [wanted]
                ).fetchone()
                if done and done[0]:
                    return wanted
                assert time.monotonic() < deadline, f"{wanted} not archived within {timeout} s"
                time.sleep(0.1)


@contextmanager
def scratch_root(prefix: str) -> Iterator[Path]:
    """A directory the server's account can reach (pytest's tmp_path is under root's 0700 pytest-of-root)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        account = _account()
        if account:
            os.chown(root, *account)
        root.chmod(0o755)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def primary_cluster(root: Path, source: Server) -> Iterator[PrimaryCluster]:
    cluster = PrimaryCluster(root, bindir_for(server_version_num(source) // 10000))
    try:
        cluster.start()
        cluster.seed_from(source)
        yield cluster
    finally:
        cluster.stop()


def manage(
    cluster: PrimaryCluster, data_dir: Path, *args: str, timeout: int = 180
) -> subprocess.CompletedProcess[str]:
    """manage.py as an operator runs it, with DATABASE_URL pointing at the scratch primary."""
    env: Mapping[str, str] = {**os.environ, "DATABASE_URL": cluster.url, "MADOGUCHI_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- Booking rows written with SQL (the scratch cluster is another server than the ORM's) -------------------


_FILL: dict[str, Any] = {
    "character varying": "x",
    "text": "x",
    "integer": 1,
    "bigint": 1,
    "smallint": 1,
    "boolean": False,
    "date": dt.date(2026, 12, 7),
    "time without time zone": dt.time(9, 0),
    "timestamp with time zone": dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC),
}


def insert_row(conn: psycopg.Connection[Any], schema: str, table: str, values: dict[str, Any]) -> int:
    """Insert a row with `values`, every other NOT NULL column without a default given a plain value."""
    columns = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
        "AND is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'",
        [schema, table],
    ).fetchall()
    row = dict(values)
    for name, data_type in columns:
        if name not in row:
            row[name] = uuid.uuid4() if data_type == "uuid" else _FILL[data_type]
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
        sql.Identifier(schema, table),
        sql.SQL(", ").join(sql.Identifier(c) for c in row),
        sql.SQL(", ").join(sql.Placeholder() for _ in row),
    )
    result = conn.execute(query, list(row.values())).fetchone()
    assert result is not None
    return int(result[0])


def booking_setup(cluster: PrimaryCluster, schema: str) -> tuple[int, int]:
    """A counter, a purpose and a slot in the city: (slot id, purpose id) to book into."""
    with cluster.server().connect() as conn:
        group = insert_row(
            conn, schema, "booking_countergroup", {"name": "市民課", "seats": 50, "staff_seats": 0}
        )
        purpose = insert_row(conn, schema, "booking_purpose", {"code": "pitr", "counter_group_id": group})
        start = dt.datetime(2026, 12, 7, 0, 0, tzinfo=dt.UTC)
        slot = insert_row(
            conn,
            schema,
            "booking_slot",
            {
                "counter_group_id": group,
                "start": start,
                "end": start + dt.timedelta(minutes=30),
                "seats": 50,
                "taken": 0,
            },
        )
        conn.commit()
    return slot, purpose


def book(cluster: PrimaryCluster, schema: str, slot_purpose: tuple[int, int], codes: list[str]) -> None:
    """One committed transaction per booking, as residents make them."""
    slot, purpose = slot_purpose
    with cluster.server().connect() as conn:
        for code in codes:
            insert_row(
                conn,
                schema,
                "booking_reservation",
                {"code": code, "slot_id": slot, "purpose_id": purpose, "seats": 1},
            )
            conn.commit()


def codes(cluster: PrimaryCluster, schema: str) -> set[str]:
    with cluster.server().connect() as conn:
        rows = conn.execute(
            sql.SQL("SELECT code FROM {} WHERE code LIKE 'PITR%%'").format(
                sql.Identifier(schema, "booking_reservation")
            )
        ).fetchall()
    return {str(r[0]) for r in rows}
