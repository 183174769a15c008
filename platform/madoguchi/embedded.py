"""The embedded PostgreSQL that a fresh machine uses when DATABASE_URL is unset.

pgserver ships PostgreSQL 16 as a wheel. The server outlives the process that started it (web, worker and beat
share it) and is stopped explicitly by `python -m madoguchi.embedded stop` (the Makefile does this).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from madoguchi.config import DATA_DIR

PGDATA = DATA_DIR / "pg"


def _system_user() -> str | None:
    # As root, pgserver runs the server as its own OS user: PostgreSQL refuses to run as root.
    return "pgserver" if os.geteuid() == 0 else None


def _runtime_dir() -> None:
    """pgserver keeps its inter-process lock in the runtime directory; give it one inside .data/."""
    runtime = DATA_DIR / "run"
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))


def start() -> None:
    """Start the server (idempotent) and create the project's database."""
    _runtime_dir()
    import pgserver

    server = pgserver.get_server(PGDATA, cleanup_mode=None)
    exists = server.psql("SELECT 1 FROM pg_database WHERE datname = 'madoguchi';")
    if "(1 row)" not in exists:
        server.psql("CREATE DATABASE madoguchi;")


def is_running() -> bool:
    pid_file = PGDATA / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def stop() -> None:
    if not is_running():
        return
    _runtime_dir()
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=Path(PGDATA), user=_system_user())


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "status"
    if command == "start":
        start()
    elif command == "stop":
        stop()
    elif command == "status":
        sys.stdout.write("running\n" if is_running() else "stopped\n")
    else:
        sys.stderr.write("usage: python -m madoguchi.embedded start|stop|status\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
