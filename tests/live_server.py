"""A real server for the tests that need one (browser tests, the API's contract and concurrency tests): gunicorn in
a subprocess on the test database, committed data only, reached at 127.0.0.1 with a city's Host header."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
# The server's file mail backend writes here; tests read the .eml files (the server is another process).
MAIL_DIR = Path(tempfile.mkdtemp(prefix="madoguchi-browser-mail-"))


def server_env() -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}",
        "DJANGO_SETTINGS_MODULE": "madoguchi.settings",
        # No Celery worker beside the test server: booking mails go out in the request's on_commit.
        "MADOGUCHI_BOOKING_MAIL_SYNC": "true",
        "EMAIL_FILE_PATH": str(MAIL_DIR),
        "EMAIL_BACKEND": "file",
        "EMAIL_URL": "",
    }
    test_db = connection.settings_dict["NAME"]
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{test_db}"))
    else:
        env["MADOGUCHI_EMBEDDED_DB"] = test_db
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn_server(*, workers: int, threads: int, env: Mapping[str, str] | None = None) -> Iterator[int]:
    """gunicorn on a free port, once /healthz answers (at most 60 s); its port, and the server stopped after."""
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "madoguchi.wsgi:application",
            "--chdir",
            str(ROOT / "platform"),
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**server_env(), **(env or {})},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the test server did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
