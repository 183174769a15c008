"""Servers the fault tests own and break: a PostgreSQL cluster, a PgBouncer and a redis-server of their own, each
on a port of the faults range (18700-18799), under a temporary directory, stopped after. Never the shared servers.

PostgreSQL comes from Debian's packages (/usr/lib/postgresql/<version>/bin); as root the cluster runs as the
`postgres` OS user (initdb and pgbouncer refuse root). Tests skip with the reason when a binary is missing.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

PG_PORT = 18710
PGBOUNCER_PORT = 18711
REDIS_PORT = 18712
DB_NAME = "madoguchi_faults_cluster"
ROOT = Path(__file__).resolve().parents[2]


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, every: float = 0.1) -> None:
    """Poll `check` until it is true; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _as_server_user(command: list[str]) -> list[str]:
    """As root, run the server as `postgres` (PostgreSQL and PgBouncer refuse to run as root)."""
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
    return [runuser, "-u", "postgres", "--", *command]


def _owned_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(path, user="postgres")
    return path


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        pytest.skip("no Debian PostgreSQL binaries (/usr/lib/postgresql/*/bin): apt-get install postgresql")
    return Path(found[-1]).parent


class PostgresCluster:
    """A cluster of our own on 127.0.0.1:PG_PORT (fsync off: its data is thrown away after the test run)."""

    def __init__(self, root: Path, port: int = PG_PORT) -> None:
        self.bin = postgres_bin()
        self.root = _owned_dir(root)
        self.data = self.root / "data"
        self.port = port
        self.log = self.root / "postgres.log"

    def url(self, host_port: int | None = None, database: str = DB_NAME) -> str:
        return f"postgresql://postgres@127.0.0.1:{host_port or self.port}/{database}"

    def _pg_ctl(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            _as_server_user([str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "30", *args]),
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        if not self.data.exists():
            subprocess.run(
                _as_server_user(
                    [
                        str(self.bin / "initdb"),
                        "-D",
                        str(self.data),
                        "-U",
                        "postgres",
                        "-A",
                        "trust",
                        "-E",
                        "UTF8",
                        "--locale=C.UTF-8",
                        "--no-sync",
                    ]
                ),
                check=True,
                timeout=120,
                stdout=subprocess.DEVNULL,
            )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
        )
        self._pg_ctl("-o", options, "-l", str(self.log), "start")

    def restart(self, mode: str) -> float:
        """pg_ctl restart -m `mode` (fast: sessions ended cleanly; immediate: killed, crash recovery); seconds."""
        began = time.monotonic()
        self._pg_ctl("-m", mode, "restart")
        return time.monotonic() - began

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("-m", "immediate", "stop")

    def psql(self, sql: str, database: str = DB_NAME) -> str:
        return subprocess.run(
            [
                str(self.bin / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-tAc",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()


class Pgbouncer:
    """PgBouncer in session mode (as production: django-tenants' search_path is per connection) before `cluster`."""

    def __init__(self, root: Path, cluster: PostgresCluster, port: int = PGBOUNCER_PORT) -> None:
        binary = shutil.which("pgbouncer") or (
            "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
        )
        if binary is None:
            pytest.skip("pgbouncer is not installed (as root: apt-get install -y pgbouncer)")
        self.binary = binary
        self.root = _owned_dir(root)
        self.port = port
        self.ini = self.root / "pgbouncer.ini"
        self.pid = self.root / "pgbouncer.pid"
        (self.root / "userlist.txt").write_text('"postgres" ""\n')
        self.ini.write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={cluster.port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.root / 'userlist.txt'}\n"
            "pool_mode = session\nmax_client_conn = 200\ndefault_pool_size = 40\n"
            "server_reset_query = DISCARD ALL\n"
            f"pidfile = {self.pid}\nlogfile = {self.root / 'pgbouncer.log'}\n"
        )
        for name in ("pgbouncer.ini", "userlist.txt"):
            if os.geteuid() == 0:
                shutil.chown(self.root / name, user="postgres")

    def start(self) -> None:
        subprocess.run(_as_server_user([self.binary, "-d", str(self.ini)]), check=True, timeout=30)
        wait_until(lambda: port_open(self.port), timeout=15, what="pgbouncer listening")

    def stop(self) -> None:
        if not self.pid.exists():
            return
        pid = int(self.pid.read_text().strip() or 0)
        if pid:
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                return
            wait_until(lambda: not _alive(pid), timeout=15, what="pgbouncer stopped")

    def restart(self) -> float:
        """Stopped (clients' connections cut) and started again, as `systemctl restart pgbouncer`; seconds."""
        began = time.monotonic()
        self.stop()
        self.start()
        return time.monotonic() - began


def _alive(pid: int, kill: Callable[[int, int], None] = os.kill) -> bool:
    """Signal 0 reaches `pid` (with os.killpg: a process of the group `pid`)."""
    try:
        kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class RedisServer:
    """redis-server of our own on 127.0.0.1:REDIS_PORT, without persistence (with `persist`: an append-only file,
    as production keeps the queued tasks over a crash: each write is in the file before Redis answers it)."""

    def __init__(self, root: Path, port: int = REDIS_PORT, *, persist: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
        self.binary = binary
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *(
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "yes" if self.persist else "no",
                ),
                *("--dir", str(self.root), "--logfile", str(self.root / "redis.log")),
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_until(lambda: port_open(self.port), timeout=15, what="redis-server listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no shutdown, connections cut (a crash, the OOM killer)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)
        self.process = None


@contextmanager
def celery_worker(
    env: dict[str, str], log: Path, *, concurrency: int = 2
) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker (prefork, as production) on `env`'s broker and queue, in a process group of its own;
    killed with its children after (SIGKILL: the tests that use it do not need a clean stop)."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                *("-A", "madoguchi", "worker", "-P", "prefork", "-c", str(concurrency)),
                *("-Q", env["MADOGUCHI_CELERY_QUEUE"], "--without-heartbeat", "--without-gossip"),
                *("--without-mingle", "--loglevel", "WARNING"),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed with its children
        )
    try:
        yield process
    finally:
        kill_group(process)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None or group_alive(process.pid):
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    wait_until(lambda: not group_alive(process.pid), timeout=15, what="the worker's children gone")


def group_alive(pgid: int) -> bool:
    return _alive(pgid, os.killpg)
