"""What every part of the bench shares: the sandbox (a throw-away data directory and database), the log and the
load average per section, the one percentile function and the other figures' arithmetic, the report's tables, and
the gunicorn server the HTTP parts measure (start, stop, the exceptions it logged).

Nothing here imports Django at module level: bench/run.py must point MADOGUCHI_DATA_DIR and DATABASE_URL at the
sandbox before the settings are read (django_setup() comes after sandbox_open()).
"""

from __future__ import annotations

import contextlib
import http.client
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
BENCH_DATABASE = "madoguchi_bench"
CITY_HOST_SUFFIX = ".localhost"
PUBLIC_HOST = "localhost"
HTTP_CITY = "bench1"  # the first city created; the latency figure requests its pages


# --- log, load average, percentile and ratios ------------------------------------------------------------------


_STARTED = time.monotonic()


# The 1-minute load average sampled at each step, per section: other processes on the machine (tests, builds)
# make every figure noisier, and the report says how busy the machine was.
LOADS: dict[str, list[float]] = {}


def load_now() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def log(message: str, section: str | None = None) -> None:
    if section is not None:
        LOADS.setdefault(section, []).append(load_now())
    print(f"[bench {time.monotonic() - _STARTED:5.0f} s] {message}", file=sys.stderr, flush=True)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def load_text(section: str) -> str:
    values = LOADS.get(section, [])
    if not values:
        return ""
    # The bench itself keeps up to about three processes runnable (client, server side, database backend).
    busy = max(values) > cpu_count() + 3
    return (
        f"Load average (1 min) while measuring: {min(values):.1f}–{max(values):.1f} on {cpu_count()} CPUs, "
        "the bench's own processes included"
        + (": **other work competed for the CPUs, figures are noisier than usual**." if busy else ".")
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile by nearest rank (the ceil(q * n)-th smallest value), `nan` when there is none.

    The one percentile of the bench: every p50/p95/p99 of every section comes from here. Nearest rank returns a
    value that was measured (no interpolation); with 10 samples p95 is the slowest one.
    """
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}×" if denominator > 0 else "n/a"


def django_setup() -> None:
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    os.environ["DJANGO_SETTINGS_MODULE"] = "madoguchi.settings"
    import django

    django.setup()


# --- isolation: a throw-away data directory and database -------------------------------------------------------


@dataclass
class Sandbox:
    data_dir: Path
    external_url: str | None  # the caller's DATABASE_URL, when set: we use `database` on that server
    gunicorn: subprocess.Popen[bytes] | None = None
    database: str = BENCH_DATABASE

    @property
    def embedded(self) -> bool:
        return self.external_url is None


def _url_with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    scheme = "postgresql" if parts.scheme in {"postgres", "postgresql", "pgsql", "psql"} else parts.scheme
    return urlunsplit(parts._replace(scheme=scheme, path="/" + database))


def _external_admin(url: str, statements: Sequence[str], database: str = BENCH_DATABASE) -> None:
    import psycopg

    admin_db = urlsplit(url).path.lstrip("/") or "postgres"
    if admin_db == database:
        admin_db = "postgres"
    with psycopg.connect(_url_with_database(url, admin_db), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def sandbox_open(database: str = BENCH_DATABASE) -> Sandbox:
    """Point this process and every subprocess at a fresh, separate database before Django is imported (with
    DATABASE_URL set: `database` on that server; bench/profiler.py uses its own)."""
    data_dir = Path(tempfile.mkdtemp(prefix="madoguchi-bench-"))
    # As root the embedded server runs as its own OS user, which must be able to reach its data directory.
    data_dir.chmod(0o755)
    external = os.environ.get("DATABASE_URL") or None
    os.environ["MADOGUCHI_DATA_DIR"] = str(data_dir)
    # A production-like, comparable configuration whatever the caller's shell has: plain HTTP, no debug, the
    # default public host, cloning, and nothing shared with a developer's Redis, Sentry or mail server.
    os.environ.update(
        {
            "DJANGO_DEBUG": "0",
            "MADOGUCHI_SECURE": "0",
            "MADOGUCHI_DOMAIN": PUBLIC_HOST,
            "MADOGUCHI_TENANT_CREATION": "clone",
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "text",
            "EMAIL_BACKEND": "file",
        }
    )
    for name in (
        "REDIS_URL",
        "SENTRY_DSN",
        "EMAIL_URL",
        "DJANGO_ALLOWED_HOSTS",
        "EXECUTOR",
        "MADOGUCHI_TRUSTED_PROXIES",
        "MADOGUCHI_VENDOR_NETWORKS",
    ):
        os.environ.pop(name, None)
    if external:
        try:
            _external_admin(
                external,
                [
                    f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
                    f'CREATE DATABASE "{database}"',
                ],
                database,
            )
        except Exception:
            shutil.rmtree(data_dir, ignore_errors=True)
            raise
        os.environ["DATABASE_URL"] = _url_with_database(external, database)
    return Sandbox(data_dir=data_dir, external_url=external, database=database)


def sandbox_close(box: Sandbox) -> None:
    gunicorn_stop(box, kill_after=15)
    if "django" in sys.modules:
        from django.db import connections

        connections.close_all()
    if box.embedded:
        subprocess.run(
            [PYTHON, "-m", "madoguchi.embedded", "stop"],
            cwd=ROOT,
            check=False,
            env={
                "XDG_RUNTIME_DIR": str(
                    box.data_dir / "run"
                ),  # where pgserver keeps its lock (see embedded.py)
                **os.environ,
                "PYTHONPATH": f"platform{os.pathsep}.",
            },
        )
    else:
        assert box.external_url is not None
        _external_admin(
            box.external_url, [f'DROP DATABASE IF EXISTS "{box.database}" WITH (FORCE)'], box.database
        )
    shutil.rmtree(box.data_dir, ignore_errors=True)


def manage(*args: str, timeout: float = 300) -> float:
    started = time.perf_counter()
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, check=True, timeout=timeout)
    return time.perf_counter() - started


def assert_isolated(box: Sandbox) -> None:
    """Refuse to measure anything against a database that is not the bench's own."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if box.embedded:
        ok = Path(db["HOST"]).resolve().is_relative_to(box.data_dir.resolve())
    else:
        ok = db["NAME"] == box.database
    if not ok or Path(settings.DATA_DIR).resolve() != box.data_dir.resolve():
        raise SystemExit(f"bench: refusing to run against {db['NAME']} at {db['HOST']!r}")


# --- the report's tables ---------------------------------------------------------------------------------------


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


# --- the gunicorn the HTTP parts measure, and what it logged ---------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(port: int, host: str, path: str) -> tuple[int, float]:
    # Python does not resolve *.localhost: connect to the loopback address and name the host in the header.
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": host, "Accept-Language": "ja"})
        response = conn.getresponse()
        response.read()
        status = response.status
    finally:
        conn.close()
    return status, (time.perf_counter() - started) * 1000


def gunicorn_start(
    box: Sandbox, workers: int, *, threads: int | None = None, settings_module: str | None = None
) -> int:
    """gunicorn on a free port of 127.0.0.1: sync workers, or with `threads` the production config (gthread)."""
    port = free_port()
    log_file = box.data_dir / "gunicorn.log"
    production = [
        "-c",
        str(ROOT / "ops" / "gunicorn.conf.py"),
        "--threads",
        str(threads),
        "--max-requests",
        "0",
    ]
    env = dict(os.environ)
    # Every bench client comes from 127.0.0.1: raise the residents' per-address limits and hold caps (the one
    # setting for benchmarks and load tests, refused in secure mode; docs/booking.md), so a rush is not a test of
    # the limiter. The per-session limits and the per-code cool-downs stay as they are.
    env["MADOGUCHI_BENCH_LIMITS"] = "true"
    if settings_module:
        env["DJANGO_SETTINGS_MODULE"] = settings_module
    box.gunicorn = subprocess.Popen(
        [
            str(Path(PYTHON).with_name("gunicorn")),
            *(production if threads else []),
            "madoguchi.wsgi:application",
            "--chdir",
            str(ROOT / "platform"),
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "--error-logfile",
            str(log_file),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(box.data_dir / "app.log").open("ab"),  # Django's own log: the errors behind a 500
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if box.gunicorn.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{log_file.read_text()[-4000:]}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if http_get(port, PUBLIC_HOST, "/healthz")[0] == 200:
                return port
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def gunicorn_stop(box: Sandbox, kill_after: float | None = None) -> None:
    """Stop the bench's gunicorn if it runs (the rush replaces the latency section's server; the sandbox's end)."""
    if box.gunicorn is None or box.gunicorn.poll() is not None:
        return
    box.gunicorn.terminate()
    if kill_after is None:
        box.gunicorn.wait(timeout=30)
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        box.gunicorn.wait(timeout=kill_after)
    if box.gunicorn.poll() is None:
        box.gunicorn.kill()


def app_errors(box: Sandbox, limit: int = 5) -> list[str]:
    """The distinct exceptions the app logged (the final line of each traceback)."""
    path = box.data_dir / "app.log"
    if not path.exists():
        return []
    pattern = re.compile(r"^[\w.]+(?:Error|Exception|DoesNotExist|Invalid\w*)\b:?.*$")
    found = dict.fromkeys(
        line.strip() for line in path.read_text(errors="replace").splitlines() if pattern.match(line)
    )
    return list(found)[:limit]


def count_queries(host: str, path: str) -> int:
    """The SQL statements one request runs (in this process, through Django's test client)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        Client().get(path, headers={"host": host, "accept-language": "ja"})
    connection.set_schema_to_public()  # type: ignore[attr-defined]  # django-tenants' backend
    return len(captured.captured_queries)


# --- the sandbox around a run ----------------------------------------------------------------------------------


@contextlib.contextmanager
def sandbox(keep: bool, database: str = BENCH_DATABASE) -> Iterator[Sandbox]:
    box = sandbox_open(database)
    try:
        yield box
    finally:
        if keep:
            log(
                f"--keep: data under {box.data_dir}; stop with MADOGUCHI_DATA_DIR={box.data_dir} "
                "PYTHONPATH=platform:. python -m madoguchi.embedded stop"
            )
            if box.gunicorn is not None:
                box.gunicorn.terminate()
        else:
            log("cleaning up")
            sandbox_close(box)
