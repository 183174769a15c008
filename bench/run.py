"""Tenancy benchmarks: city creation, no-op deploy migrations, request latency, a booking rush. Writes bench/report.md.

Every figure is a ratio against a baseline measured in the same run, because machines are noisy: clone vs full
migration, a city created among 200 vs among 10, the project's deploy executor vs the stock and the
django-tenants-smart-executor ones, a city's page vs the vendor's page, bookings under a rush of 200 clients vs a
transaction that locks and updates one row and the availability page vs a trivial view. Nothing here is a pass/fail
threshold, except that the rush must show 0 overbookings.

The run never touches the developer database: it sets MADOGUCHI_DATA_DIR to a fresh temporary directory before
Django is imported, so the settings start a separate embedded PostgreSQL there (or, when DATABASE_URL is set, it
uses a dedicated database `madoguchi_bench` on that server, dropped and re-created). Both are removed at the end.

    .venv/bin/python bench/run.py                      # what `make bench` runs
    .venv/bin/python bench/run.py --cities 50 --samples 5 --requests 200   # a quicker look
    .venv/bin/python bench/run.py --only rush          # only the booking rush, spliced into the report
    .venv/bin/python bench/run.py --only issuance      # only the card import and counter search (section 5)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import math
import os
import platform as stdlib_platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
BENCH_DATABASE = "madoguchi_bench"
CITY_HOST_SUFFIX = ".localhost"
PUBLIC_HOST = "localhost"
HTTP_CITY = "bench1"  # the first city created; the latency figure requests its pages

# Deploy executors compared; "ours" is whatever the project's settings configure (GET_EXECUTOR_FUNCTION).
DEPLOY_VARIANTS = {
    "ours": "project: tenants.migration.get_executor (skip up-to-date, multiprocessing)",
    "smart:multiprocessing": "django-tenants-smart-executor, multiprocessing",
    "smart:standard": "django-tenants-smart-executor, standard",
    "stock:multiprocessing": "django-tenants stock, multiprocessing",
    "stock:standard": "django-tenants stock, standard",
}


STOCK_DEPLOY_ROUNDS = 2  # at most; they take ~0.1 s per city each


# --- small helpers --------------------------------------------------------------------------------------------


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


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile (with 10 samples this is the slowest one)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}×" if denominator > 0 else "n/a"


def django_setup() -> None:
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    os.environ["DJANGO_SETTINGS_MODULE"] = "madoguchi.settings"
    import django

    django.setup()


# --- isolation: a throw-away data directory and database ------------------------------------------------------


@dataclass
class Sandbox:
    data_dir: Path
    external_url: str | None  # the caller's DATABASE_URL, when set: we use BENCH_DATABASE on that server
    gunicorn: subprocess.Popen[bytes] | None = None

    @property
    def embedded(self) -> bool:
        return self.external_url is None


def _url_with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    scheme = "postgresql" if parts.scheme in {"postgres", "postgresql", "pgsql", "psql"} else parts.scheme
    return urlunsplit(parts._replace(scheme=scheme, path="/" + database))


def _external_admin(url: str, statements: Sequence[str]) -> None:
    import psycopg

    admin_db = urlsplit(url).path.lstrip("/") or "postgres"
    if admin_db == BENCH_DATABASE:
        admin_db = "postgres"
    with psycopg.connect(_url_with_database(url, admin_db), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def sandbox_open() -> Sandbox:
    """Point this process and every subprocess at a fresh, separate database before Django is imported."""
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
                    f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)',
                    f'CREATE DATABASE "{BENCH_DATABASE}"',
                ],
            )
        except Exception:
            shutil.rmtree(data_dir, ignore_errors=True)
            raise
        os.environ["DATABASE_URL"] = _url_with_database(external, BENCH_DATABASE)
    return Sandbox(data_dir=data_dir, external_url=external)


def sandbox_close(box: Sandbox) -> None:
    if box.gunicorn is not None and box.gunicorn.poll() is None:
        box.gunicorn.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            box.gunicorn.wait(timeout=15)
        if box.gunicorn.poll() is None:
            box.gunicorn.kill()
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
        _external_admin(box.external_url, [f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)'])
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
        ok = db["NAME"] == BENCH_DATABASE
    if not ok or Path(settings.DATA_DIR).resolve() != box.data_dir.resolve():
        raise SystemExit(f"bench: refusing to run against {db['NAME']} at {db['HOST']!r}")


# --- machine ------------------------------------------------------------------------------------------------


def machine_info() -> dict[str, str]:
    from django.db import connection

    def cpu_model() -> str:
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
        return stdlib_platform.processor() or "unknown"

    def memory() -> str:
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
        return "unknown"

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    def git_revision() -> str:
        try:
            head = subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout.strip()
            dirty = subprocess.run(
                # Tracked files outside bench/: the report itself must not make the code look modified.
                ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"
        return head + (" + uncommitted changes" if dirty else "")

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    nproc = cpu_count()
    return {
        "CPU": f"{cpu_model()}, nproc {nproc}",
        "Memory": memory(),
        "OS": f"{stdlib_platform.system()} {stdlib_platform.release()} ({stdlib_platform.machine()})",
        "Load average at start (1, 5, 15 min)": ", ".join(f"{value:.1f}" for value in os.getloadavg())
        if hasattr(os, "getloadavg")
        else "unknown",
        "Python": stdlib_platform.python_version(),
        "PostgreSQL": pg_version
        + (
            " (embedded, pgserver " + version("pgserver") + ")"
            if not os.environ.get("DATABASE_URL")
            else " (DATABASE_URL server)"
        ),
        "Django": version("django"),
        "django-tenants": version("django-tenants"),
        "django-tenants-smart-executor": version("django-tenants-smart-executor"),
        "gunicorn": version("gunicorn"),
        "psycopg": version("psycopg"),
        "Code": git_revision(),
    }


# --- 1. city creation ------------------------------------------------------------------------------------------


@dataclass
class CreationPoint:
    label: str
    existing: int
    load: float = 0.0  # 1-minute load average when the row was done
    times: dict[str, list[float]] = field(default_factory=lambda: {"clone": [], "migrate": []})


@dataclass
class CreationResult:
    points: list[CreationPoint]  # small and large, each as found and after analyze_catalog()
    analyze_seconds: list[float]  # what analyze_catalog() cost, at each size
    fill: list[tuple[int, float]]  # (cities existing before, seconds) for every clone while filling up
    autoanalyzed_at: list[int]  # cities present when autovacuum had just analyzed the catalog during the fill
    comparison: list[tuple[str, str, str, str]]  # (aspect, clone, migrate, verdict)


# The catalog tables a clone reads most; their statistics decide how fast it is (see the fill curve).
CATALOG_TABLES = (
    "pg_class",
    "pg_attribute",
    "pg_attrdef",
    "pg_constraint",
    "pg_depend",
    "pg_index",
    "pg_inherits",
    "pg_namespace",
    "pg_sequence",
    "pg_type",
    "pg_description",
)


def analyze_catalog() -> float:
    """Refresh the planner statistics of the catalog tables a clone reads; returns the seconds it took."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for name in CATALOG_TABLES:
            cursor.execute(f"ANALYZE pg_catalog.{name}")
    return time.perf_counter() - started


def catalog_autoanalyze_count() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(autoanalyze_count), 0) FROM pg_stat_sys_tables WHERE relname = ANY(%s)",
            [list(CATALOG_TABLES)],
        )
        return int(cursor.fetchone()[0])


def fresh_connection() -> None:
    """Start from a new database session, as each console request does (CONN_MAX_AGE is 0).

    A session that has created many schemas carries a large relation cache, and every catalog invalidation makes
    it rebuild that cache: within one long session creation slows down with each city it made (an artefact of a
    bulk loop, not of the number of cities). Connecting is done before the clock starts.
    """
    from django.db import connection

    connection.close()
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


class Cities:
    """Creates numbered cities through the provisioning service, as the console would."""

    def __init__(self) -> None:
        self.serial = 0

    def count(self) -> int:
        from tenants.selectors import municipality_list

        return municipality_list().count()

    def create(self, mode: str) -> tuple[str, float]:
        from django.conf import settings
        from django.db import connection
        from django.test import override_settings

        from tenants.services import MunicipalityInput, municipality_create

        self.serial += 1
        slug = f"bench{self.serial}"
        data = MunicipalityInput(
            slug=slug,
            lg_code=f"{100000 + self.serial:06d}",
            name_ja=f"ベンチ市{self.serial}",
            name_en=f"Bench City {self.serial}",
            prefecture="埼玉県",
        )
        fresh_connection()
        with override_settings(TENANT_CREATION=mode):
            assert mode == settings.TENANT_CREATION
            started = time.perf_counter()
            municipality_create(data=data, domains=[slug + CITY_HOST_SUFFIX])
            elapsed = time.perf_counter() - started
        connection.set_schema_to_public()
        return slug, elapsed

    @staticmethod
    def delete(slug: str) -> None:
        from django.db import connection

        from tenants.selectors import municipality_get_by_slug

        connection.set_schema_to_public()
        municipality_get_by_slug(slug=slug).delete()

    def fill_to(
        self, target: int, record: list[tuple[int, float]] | None = None, analyzed: list[int] | None = None
    ) -> None:
        existing = self.count()
        analyses = catalog_autoanalyze_count()
        for _ in range(max(0, target - existing)):  # bounded: one creation per missing city
            _slug, elapsed = self.create("clone")
            if record is not None:
                record.append((existing, elapsed))
            existing += 1
            if analyzed is not None and (now := catalog_autoanalyze_count()) != analyses:
                analyzed.append(existing)
                analyses = now


def measure_point(
    cities: Cities, label: str, samples: int, inspect: Callable[[str, str], None] | None = None
) -> CreationPoint:
    """Create `samples` cities each way, alternating, each with exactly the same number of cities present.

    Each measured city is deleted right after, so the count (and what a clone must scan) stays put.
    """
    point = CreationPoint(label=label, existing=cities.count())
    for index in range(samples):
        order = ("clone", "migrate") if index % 2 == 0 else ("migrate", "clone")
        made: dict[str, str] = {}
        for mode in order:
            slug, elapsed = cities.create(mode)
            point.times[mode].append(elapsed)
            made[mode] = slug
        if inspect is not None and index == 0:
            inspect(made["clone"], made["migrate"])
        for slug in made.values():
            cities.delete(slug)
    point.load = load_now()
    return point


def schema_fingerprint(schema: str) -> dict[str, Any]:
    """What a schema holds, with the schema's own name and the objects' generated names taken out."""
    from django.db import connection
    from psycopg import sql

    def strip(text: str) -> str:
        return text.replace(f"{schema}.", "").replace(f'"{schema}".', "")

    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        tables = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(
            "SELECT table_name, column_name, data_type, is_nullable, is_identity "
            "FROM information_schema.columns WHERE table_schema = %s",
            [schema],
        )
        columns = set(cursor.fetchall())
        cursor.execute(
            "SELECT cl.relname, con.contype, pg_get_constraintdef(con.oid), con.conname "
            "FROM pg_constraint con JOIN pg_class cl ON cl.oid = con.conrelid "
            "JOIN pg_namespace n ON n.oid = cl.relnamespace WHERE n.nspname = %s",
            [schema],
        )
        constraint_rows = cursor.fetchall()
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %s", [schema]
        )
        index_rows = cursor.fetchall()
        rows = {}
        for table in tables:
            cursor.execute(
                sql.SQL("SELECT count(*) FROM {}.{}")
                .format(sql.Identifier(schema), sql.Identifier(table))
                .as_string(cursor.connection)
            )
            rows[table] = cursor.fetchone()[0]
        cursor.execute(
            sql.SQL("SELECT app, name FROM {}.django_migrations")
            .format(sql.Identifier(schema))
            .as_string(cursor.connection)
        )
        migrations = set(cursor.fetchall())
        # An identity sequence behind its table's rows makes the next insert fail with a duplicate key.
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND is_identity = 'YES'",
            [schema],
        )
        stale_sequences = []
        for table, column in cursor.fetchall():
            qualified = (
                sql.SQL("{}.{}")
                .format(sql.Identifier(schema), sql.Identifier(table))
                .as_string(cursor.connection)
            )
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [qualified, column])
            sequence = cursor.fetchone()[0]
            cursor.execute(
                sql.SQL("SELECT max({}) FROM {}.{}")
                .format(sql.Identifier(column), sql.Identifier(schema), sql.Identifier(table))
                .as_string(cursor.connection)
            )
            highest = cursor.fetchone()[0]
            cursor.execute(f"SELECT last_value, is_called FROM {sequence}")
            last_value, is_called = cursor.fetchone()
            if highest is not None and (last_value < highest or (last_value == highest and not is_called)):
                stale_sequences.append(f"{table}.{column}")
    return {
        "tables": tables,
        "columns": columns,
        "constraints": Counter(
            (table, kind, strip(definition)) for table, kind, definition, _ in constraint_rows
        ),
        "constraint_names": {strip(name) for *_, name in constraint_rows},
        "indexes": Counter(
            (table, re.sub(r"INDEX \S+ ON ", "INDEX ON ", strip(definition)))
            for table, _, definition in index_rows
        ),
        "index_names": {name for _, name, _ in index_rows},
        "rows": rows,
        "migrations": migrations,
        "stale_sequences": stale_sequences,
        "foreign_schema_refs": sorted(
            {
                definition
                for _, _, definition, _ in constraint_rows
                if re.search(r"REFERENCES \w+\.", strip(definition))
            }
        ),
    }


def compare_schemas(cloned: str, migrated: str) -> list[tuple[str, str, str, str]]:
    a, b = schema_fingerprint(cloned), schema_fingerprint(migrated)

    def rows_text(rows: dict[str, int]) -> str:
        return f"{sum(rows.values())} rows in {sum(1 for n in rows.values() if n)} tables"

    def same(equal: bool) -> str:
        return "same" if equal else "**DIFFERENT**"

    def names(kind: str) -> str:
        only_clone = sorted(a[kind] - b[kind])
        if a[kind] == b[kind]:
            return "same"
        # Known (ARCHITECTURE.md, cloning gotchas): the clone re-creates unique_together as an inline UNIQUE,
        # which PostgreSQL names *_key where Django names it *_<hash>_uniq. Django alters those by columns.
        known = bool(only_clone) and all(name.endswith("_key") for name in only_clone)
        return f"{len(only_clone)} differ" + (" (known: `_key` vs `_uniq`)" if known else " **(unexpected)**")

    result = [
        ("tables", str(len(a["tables"])), str(len(b["tables"])), same(a["tables"] == b["tables"])),
        (
            "columns (name, type, null, identity)",
            str(len(a["columns"])),
            str(len(b["columns"])),
            same(a["columns"] == b["columns"]),
        ),
        (
            "constraint definitions",
            str(sum(a["constraints"].values())),
            str(sum(b["constraints"].values())),
            same(a["constraints"] == b["constraints"]),
        ),
        (
            "index definitions",
            str(sum(a["indexes"].values())),
            str(sum(b["indexes"].values())),
            same(a["indexes"] == b["indexes"]),
        ),
        ("constraint names", "", "", names("constraint_names")),
        ("index names", "", "", names("index_names")),
        (
            "migration records",
            str(len(a["migrations"])),
            str(len(b["migrations"])),
            same(a["migrations"] == b["migrations"]),
        ),
        (
            "rows (content types, permissions, city defaults)",
            rows_text(a["rows"]),
            rows_text(b["rows"]),
            same(a["rows"] == b["rows"]),
        ),
        (
            "identity sequences behind their table's rows",
            ", ".join(a["stale_sequences"]) or "none",
            ", ".join(b["stale_sequences"]) or "none",
            same(a["stale_sequences"] == b["stale_sequences"]),
        ),
        (
            "foreign keys into another schema",
            str(len(a["foreign_schema_refs"])),
            str(len(b["foreign_schema_refs"])),
            same(a["foreign_schema_refs"] == b["foreign_schema_refs"]),
        ),
    ]
    if a["rows"] != b["rows"]:
        differences = ", ".join(
            f"{table} {a['rows'].get(table)}≠{b['rows'].get(table)}"
            for table in sorted(set(a["rows"]) | set(b["rows"]))
            if a["rows"].get(table) != b["rows"].get(table)
        )
        result.append(("row count differences", differences, "", "**DIFFERENT**"))
    return result


def bench_creation(cities: Cities, target: int, small: int, samples: int) -> CreationResult:
    comparison: list[tuple[str, str, str, str]] = []

    def inspect(cloned: str, migrated: str) -> None:
        comparison.extend(compare_schemas(cloned, migrated))

    log("creating the first cities (warm-up: one of each mode)", "creation")
    cities.fill_to(1)  # HTTP_CITY
    for mode in ("migrate", "clone"):
        cities.delete(cities.create(mode)[0])
    cities.fill_to(small)
    points: list[CreationPoint] = []
    analyze_seconds: list[float] = []
    fill: list[tuple[int, float]] = []
    analyzed: list[int] = []
    for size in (small, target):
        if size == target:
            log(f"filling up to {target} cities (clone)", "creation")
            cities.fill_to(target, fill, analyzed)
        # "As found" is whatever state the catalog statistics are in (autovacuum's timing decides); then the
        # same after analyzing the catalog, which is what a clone's speed depends on.
        log(
            f"measuring creation with {cities.count()} cities present ({samples} each way), as found",
            "creation",
        )
        points.append(measure_point(cities, "as found", samples, inspect if size == small else None))
        analyze_seconds.append(analyze_catalog())
        log(
            f"measuring creation with {cities.count()} cities present ({samples} each way), catalog analyzed",
            "creation",
        )
        points.append(measure_point(cities, "catalog analyzed just before", samples))
    return CreationResult(
        points=points,
        analyze_seconds=analyze_seconds,
        fill=fill,
        autoanalyzed_at=analyzed,
        comparison=comparison,
    )


# --- 2. no-op deploy migration -------------------------------------------------------------------------------


@dataclass
class DeployRun:
    variant: str
    seconds: float  # migrate_schemas itself, inside the process
    wall: float  # the whole process, Django start-up included
    note: str


def worker_deploy(variant: str) -> None:
    """Subprocess: run the deploy command with one executor and print its timing as JSON."""
    django_setup()
    from django.core.management import call_command
    from django_tenants.management.commands import migrate_schemas

    family, _, codename = variant.partition(":")
    if family == "stock":
        from django_tenants.migration_executors import get_executor

        migrate_schemas.GET_EXECUTOR_FUNCTION = get_executor  # type: ignore[attr-defined]
    elif family == "smart":
        from django_tenants_smart_executor import load_executor

        migrate_schemas.GET_EXECUTOR_FUNCTION = load_executor  # type: ignore[attr-defined]
    elif family != "ours":
        raise SystemExit(f"unknown variant {variant}")
    started = time.perf_counter()
    call_command("migrate_schemas", interactive=False, verbosity=0, executor=codename or None)
    print(json.dumps({"seconds": time.perf_counter() - started}))


def run_deploy(variant: str, log_dir: Path) -> DeployRun:
    started = time.perf_counter()
    stderr_path = log_dir / f"deploy-{variant.replace(':', '-')}.log"
    with stderr_path.open("w") as stderr:
        done = subprocess.run(
            [PYTHON, str(Path(__file__).resolve()), "--worker-deploy", variant],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            timeout=900,
            check=False,
        )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"deploy {variant} failed:\n{stderr_path.read_text()[-4000:]}")
    seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
    text = stderr_path.read_text()
    note = ""
    if skipped := re.findall(r"(\d+) of (\d+) schemas already up to date", text):
        note = f"skipped {skipped[-1][0]} of {skipped[-1][1]} schemas"
    elif variant.startswith("smart"):
        note = f"{text.count('No migrations needed')} 'No migrations needed' warnings"
    return DeployRun(variant=variant, seconds=seconds, wall=wall, note=note)


def bench_deploy(log_dir: Path, repeats: int) -> dict[str, list[DeployRun]]:
    runs: dict[str, list[DeployRun]] = {variant: [] for variant in DEPLOY_VARIANTS}
    for round_ in range(repeats):
        # Rotate the order each round so no executor always runs first (cold caches) or last.
        order = list(DEPLOY_VARIANTS)
        order = order[round_ % len(order) :] + order[: round_ % len(order)]
        for variant in order:
            if variant.startswith("stock") and round_ >= STOCK_DEPLOY_ROUNDS:
                continue  # the stock executors take most of the run; their spread is small next to the ratio
            log(f"deploy round {round_ + 1}/{repeats}: {variant}", "deploy")
            runs[variant].append(run_deploy(variant, log_dir))
    return runs


@dataclass
class PendingCheck:
    schema: str
    removed: str
    restored: bool
    pending_after: list[str]
    run: DeployRun


def check_pending_is_migrated(log_dir: Path) -> PendingCheck:
    """The skip must not skip too much: make one city lack a migration and check that ours applies it.

    console.0001_initial is a shared-only migration nothing depends on, so in a city schema re-applying it is a
    recorded no-op: a safe stand-in for a pending migration.
    """
    from django.db import connection
    from psycopg import sql

    from tenants.migration import schemas_with_pending_migrations
    from tenants.selectors import municipality_list

    connection.set_schema_to_public()
    schema = municipality_list().order_by("pk").values_list("schema_name", flat=True)[1]
    table = sql.SQL("{}.django_migrations").format(sql.Identifier(schema))
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("DELETE FROM {} WHERE app = 'console' AND name = '0001_initial'")
            .format(table)
            .as_string(cursor.connection)
        )
    before = schemas_with_pending_migrations([schema])
    connection.close()
    run = run_deploy("ours", log_dir)
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE app = 'console' AND name = '0001_initial'")
            .format(table)
            .as_string(cursor.connection)
        )
        restored = cursor.fetchone()[0] == 1 and before == [schema]
    every = list(municipality_list().values_list("schema_name", flat=True))
    return PendingCheck(
        schema=schema,
        removed="console.0001_initial",
        restored=restored,
        pending_after=schemas_with_pending_migrations(every),
        run=run,
    )


# --- 3. request latency ---------------------------------------------------------------------------------------


@dataclass
class LatencyResult:
    path: str
    city_ms: list[float]
    public_ms: list[float]
    statuses: dict[str, Counter[int]]
    queries: dict[str, int] = field(default_factory=dict)  # SQL statements one request runs, per host


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


def allow_loopback_staff(schema: str) -> str:
    """Let the bench city's staff pages answer 127.0.0.1, as the vendor's default networks do on the public host.

    Staff pages (the login included) are refused outside a city's allowed networks, and a new city has none.
    Returns what was done, for the report.
    """
    from django_tenants.utils import schema_context

    try:
        from apps.security.services import network_add
    except ImportError:
        return "no allowed-network service found: the city's staff pages may be refused (403)"
    with schema_context(schema):
        network_add(cidr="127.0.0.0/8", label="bench", actor=None)
    return f"127.0.0.0/8 added to `{schema}`'s allowed networks (apps.security.services.network_add)"


def bench_latency(port: int, paths: Sequence[str], requests: int, warmup: int) -> list[LatencyResult]:
    results = []
    city_host = HTTP_CITY + CITY_HOST_SUFFIX
    for path in paths:
        log(f"HTTP {path}: {warmup} warm-up + {requests} requests per host, alternating", "latency")
        for _ in range(warmup):
            http_get(port, city_host, path)
            http_get(port, PUBLIC_HOST, path)
        result = LatencyResult(
            path=path, city_ms=[], public_ms=[], statuses={"city": Counter(), "public": Counter()}
        )
        for index in range(requests):
            pairs = [("city", city_host), ("public", PUBLIC_HOST)]
            for kind, host in pairs if index % 2 == 0 else reversed(pairs):
                status, elapsed = http_get(port, host, path)
                result.statuses[kind][status] += 1
                (result.city_ms if kind == "city" else result.public_ms).append(elapsed)
        result.queries = {"city": count_queries(city_host, path), "public": count_queries(PUBLIC_HOST, path)}
        results.append(result)
    return results


def count_queries(host: str, path: str) -> int:
    """The SQL statements one request runs (in this process, through Django's test client)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        Client().get(path, headers={"host": host, "accept-language": "ja"})
    connection.set_schema_to_public()
    return len(captured.captured_queries)


# --- 4. booking rush ------------------------------------------------------------------------------------------

RUSH_PURPOSE = "application"  # 申請サポート: no notice number needed
RUSH_STEPS = ("calendar", "day", "hold", "form", "confirm")
RUSH_TIMEOUT = 30.0  # seconds per request; a request that takes longer is counted as a timeout
_INPUT = re.compile(r'<input type="radio" name="slot" id="slot-(\d+)" value="\d+"( disabled)?')


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    return match.group(1) if match else ""


@dataclass
class Exchange:
    status: int  # 0 = no answer (timeout or connection error)
    ms: float
    location: str = ""
    text: str = ""
    failure: str = ""  # "timeout" or "connection: ..." when status is 0


class Browser:
    """One resident's phone: a cookie jar and a new connection per request (to 127.0.0.1 with the city's Host)."""

    def __init__(self, port: int, host: str) -> None:
        self.port, self.host, self.cookies = port, host, {}

    def send(self, method: str, path: str, form: dict[str, str] | None = None, read: bool = True) -> Exchange:
        from urllib.parse import urlencode

        headers = {"Host": self.host, "Accept-Language": "ja", "Connection": "close"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=RUSH_TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except TimeoutError:
            return Exchange(0, (time.perf_counter() - started) * 1000, failure="timeout")
        except (OSError, http.client.HTTPException) as error:
            return Exchange(
                0, (time.perf_counter() - started) * 1000, failure=f"connection: {type(error).__name__}"
            )
        finally:
            conn.close()
        elapsed = (time.perf_counter() - started) * 1000
        for header in response.msg.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return Exchange(
            response.status,
            elapsed,
            location=response.getheader("Location", "") or "",
            text=data.decode("utf-8", "replace") if read else "",
        )


@dataclass
class Load:
    """Requests of one kind: latencies (answered requests), statuses, and the wall time they took."""

    ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def add(self, exchange: Exchange) -> None:
        self.statuses[exchange.failure or str(exchange.status)] += 1
        if exchange.status:
            self.ms.append(exchange.ms)

    @property
    def count(self) -> int:
        return sum(self.statuses.values())

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if not s.isdigit() or s.startswith("5"))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class RushResult:
    clients: int
    browsers: int
    workers: int
    threads: int
    book_host: str
    browse_host: str
    day: str
    slots: int
    seats: int
    seconds: float = 0.0  # from the start signal to the last booking client's end
    steps: dict[str, Load] = field(default_factory=lambda: {s: Load() for s in RUSH_STEPS})
    browse: Load = field(default_factory=Load)
    outcomes: Counter[str] = field(default_factory=Counter)
    codes: list[str] = field(default_factory=list)
    baselines: dict[str, Load] = field(default_factory=dict)
    baseline_clients: int = 0
    check: dict[str, Any] = field(default_factory=dict)
    queries: dict[str, int] = field(default_factory=dict)
    unfinished: int = 0


def rush_setup(cities: Cities, seats: int) -> tuple[str, str, dt.date, int]:
    """Two new cities (booking, browsing) with the whole booking window of slots; returns (book, browse, day, slots).

    Each city's counter gets `seats` seats per frame before slots_sync fills the window from the default hours
    (weekdays 8:30–12:00 and 13:00–17:00 in 30-minute frames: 15 slots a day). The rush day is the first day at
    least two days ahead that has slots (outside the 24-hour closing time).
    """
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context
    from psycopg import sql

    from apps.booking.calendar import TOKYO
    from apps.booking.models import CounterGroup, Slot
    from apps.booking.services import slots_sync

    book, _ = cities.create("clone")
    browse, _ = cities.create("clone")
    today = timezone.now().astimezone(TOKYO).date()
    for schema in (book, browse):
        with schema_context(schema):
            CounterGroup.objects.update(seats=seats)
            slots_sync(today=today)
    with schema_context(book):
        first = dt.datetime.combine(today + dt.timedelta(days=2), dt.time(), TOKYO)
        start = (
            Slot.objects.filter(start__gte=first, blocked=False)
            .order_by("start")
            .values_list("start", flat=True)[0]
        )
        day = start.astimezone(TOKYO).date()
        slots = Slot.objects.filter(
            start__gte=dt.datetime.combine(day, dt.time(), TOKYO),
            start__lt=dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), TOKYO),
        ).count()
        with connection.cursor() as cursor:
            table = sql.SQL("{}.bench_counter").format(sql.Identifier(book)).as_string(cursor.connection)
            cursor.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, n bigint NOT NULL)")
            cursor.execute(f"INSERT INTO {table} VALUES (1, 0)")
    connection.set_schema_to_public()
    return book, browse, day, slots


def hammer(port: int, host: str, path: str, clients: int, total: int) -> Load:
    """`total` GETs of one path from `clients` threads at once, as fast as the server answers."""
    import threading

    load = Load()
    lock = threading.Lock()
    left = [total]

    def worker() -> None:
        browser = Browser(port, host)
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            exchange = browser.send("GET", path, read=True)
            with lock:
                load.add(exchange)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    deadline = started + max(120.0, total * 0.5)
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.perf_counter()))
    load.seconds = time.perf_counter() - started
    return load


def resident(port: int, host: str, day: dt.date, index: int, result: RushResult, lock: Any) -> str:
    """One resident's whole flow, once: calendar → day → hold (POST) → form → confirm (POST). Returns the outcome."""
    browser = Browser(port, host)
    base = f"/book/{RUSH_PURPOSE}/"

    def step(name: str, exchange: Exchange) -> Exchange:
        with lock:
            result.steps[name].add(exchange)
        return exchange

    def failed(name: str, exchange: Exchange) -> str:
        return f"{name}: " + (exchange.failure or f"HTTP {exchange.status}")

    calendar = step("calendar", browser.send("GET", f"{base}?month={day:%Y-%m}"))
    if calendar.status != 200:
        return failed("calendar", calendar)
    day_page = step("day", browser.send("GET", f"{base}{day.isoformat()}/"))
    if day_page.status != 200:
        return failed("day", day_page)
    free = [slot for slot, disabled in _INPUT.findall(day_page.text) if not disabled]
    if not free:
        return "no free time shown on the day page"
    import random

    held = step(
        "hold",
        browser.send(
            "POST",
            f"{base}{day.isoformat()}/",
            {
                "csrfmiddlewaretoken": _hidden(day_page.text, "csrfmiddlewaretoken"),
                "slot": random.choice(free),
                "persons": "1",
            },
        ),
    )
    if held.status == 409:
        return "just taken (409) at the hold"
    if held.status != 302 or "/book/hold/" not in held.location:
        return failed("hold", held)
    form_path = urlsplit(held.location).path
    form = step("form", browser.send("GET", form_path))
    if form.status != 200:
        return failed("form", form)
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=index * 37)  # one person per client: max_future_bookings
    confirm = step(
        "confirm",
        browser.send(
            "POST",
            form_path,
            {
                "csrfmiddlewaretoken": _hidden(form.text, "csrfmiddlewaretoken"),
                "p1-name": f"ベンチ 太郎{index}",
                "p1-kana": "",
                "p1-birth_date_0": "western",
                "p1-birth_date_1": str(birth.year),
                "p1-birth_date_2": str(birth.month),
                "p1-birth_date_3": str(birth.day),
                "email": f"resident{index}@example.jp",
                "phone": "090-1234-5678",
                "submission_key": _hidden(form.text, "submission_key"),
            },
            read=False,
        ),
    )
    if confirm.status == 302 and "/book/done/" in confirm.location:
        code = confirm.location.rstrip("/").rsplit("/", 1)[-1]
        with lock:
            result.codes.append(code)
        return "booked"
    if confirm.status == 409:
        return "just taken (409) at the confirmation"
    if confirm.status == 410:
        return "hold expired (410)"
    return failed("confirm", confirm)


def rush_run(port: int, result: RushResult, day: dt.date) -> None:
    """All booking clients start together; browsing clients load the other city's calendar until they are done."""
    import threading

    lock = threading.Lock()
    go = threading.Event()
    done = threading.Event()
    today = dt.datetime.now(dt.UTC).date()
    months = [f"{day:%Y-%m}", f"{today:%Y-%m}"]

    def booker(index: int) -> None:
        go.wait()
        try:
            outcome = resident(port, result.book_host, day, index, result, lock)
        except Exception as error:  # a client bug must show in the report
            outcome = f"client error: {type(error).__name__}: {error}"
        with lock:
            result.outcomes[outcome] += 1

    def browser_loop(index: int) -> None:
        browser = Browser(port, result.browse_host)
        go.wait()
        turn = index
        while not done.is_set():
            exchange = browser.send("GET", f"/book/{RUSH_PURPOSE}/?month={months[turn % 2]}")
            turn += 1
            with lock:
                result.browse.add(exchange)

    bookers = [threading.Thread(target=booker, args=(i,), daemon=True) for i in range(result.clients)]
    browsers = [threading.Thread(target=browser_loop, args=(i,), daemon=True) for i in range(result.browsers)]
    for thread in bookers + browsers:
        thread.start()
    started = time.perf_counter()
    go.set()
    deadline = started + 5 * RUSH_TIMEOUT + 60  # five steps, each bounded by the request timeout
    for thread in bookers:
        thread.join(timeout=max(0.0, deadline - time.perf_counter()))
    result.seconds = time.perf_counter() - started
    result.browse.seconds = result.seconds
    result.unfinished = sum(thread.is_alive() for thread in bookers)
    done.set()
    for thread in browsers:
        thread.join(timeout=RUSH_TIMEOUT + 5)
    for load in result.steps.values():
        load.seconds = result.seconds


def rush_check(result: RushResult, schema: str) -> dict[str, Any]:
    """Overbooking, counted in the database after the run: every slot of the booking city."""
    from django.db import connection
    from django.db.models import Count, Q, Sum
    from django_tenants.utils import schema_context

    from apps.booking.models import Hold, Reservation, Slot

    with schema_context(schema):
        booked = {
            row["slot_id"]: (row["seats"], row["n"])
            for row in Reservation.objects.filter(status=Reservation.Status.BOOKED)
            .values("slot_id")
            .annotate(seats=Sum("seats"), n=Count("id"))
        }
        held = {
            row["slot_id"]: row["seats"]
            for row in Hold.objects.values("slot_id").annotate(seats=Sum("seats"))
        }
        over, mismatched, slots_checked, total_seats_touched = 0, [], 0, 0
        for slot in Slot.objects.filter(Q(pk__in=set(booked) | set(held)) | Q(taken__gt=0)):
            slots_checked += 1
            seats_booked = booked.get(slot.pk, (0, 0))[0]
            seats_held = held.get(slot.pk, 0)
            over += max(0, slot.taken - slot.seats) + max(0, seats_booked + seats_held - slot.seats)
            total_seats_touched += slot.seats
            if slot.taken != seats_booked + seats_held:
                mismatched.append(
                    f"slot {slot.pk}: taken {slot.taken} ≠ booked {seats_booked} + held {seats_held}"
                )
        reservations = Reservation.objects.filter(status=Reservation.Status.BOOKED).count()
        from apps.booking.calendar import TOKYO

        day = dt.date.fromisoformat(result.day)
        day_slots = Slot.objects.filter(
            start__gte=dt.datetime.combine(day, dt.time(), TOKYO),
            start__lt=dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), TOKYO),
        )
        day_seats = sum(s.seats - s.staff_seats for s in day_slots)
        day_booked = Reservation.objects.filter(status=Reservation.Status.BOOKED, slot__in=day_slots).count()
        holds = Hold.objects.count()
        codes_in_db = set(
            Reservation.objects.filter(code__in=result.codes, status=Reservation.Status.BOOKED).values_list(
                "code", flat=True
            )
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT n FROM bench_counter WHERE id = 1")
            counter = cursor.fetchone()[0]
    connection.set_schema_to_public()
    return {
        "overbooked_seats": over,
        "mismatched": mismatched,
        "slots_checked": slots_checked,
        "reservations": reservations,
        "day_booked": day_booked,
        "day_seats": day_seats,
        "holds_left": holds,
        "codes_client": len(result.codes),
        "codes_unique": len(set(result.codes)),
        "codes_in_db": len(codes_in_db),
        "lock_update_counter": counter,
    }


def bench_rush(box: Sandbox, cities: Cities, args: argparse.Namespace) -> RushResult:
    from django.db import connection

    log("rush: creating the booking and browsing cities, filling their booking window with slots", "rush")
    book, browse, day, slots = rush_setup(cities, args.rush_seats)
    connection.close()
    if box.gunicorn is not None and box.gunicorn.poll() is None:  # the latency section's server
        box.gunicorn.terminate()
        box.gunicorn.wait(timeout=30)
    port = gunicorn_start(
        box, args.rush_workers, threads=args.rush_threads, settings_module="bench.settings_bench"
    )
    result = RushResult(
        clients=args.rush_clients,
        browsers=args.rush_browsers,
        workers=args.rush_workers,
        threads=args.rush_threads,
        book_host=book + CITY_HOST_SUFFIX,
        browse_host=browse + CITY_HOST_SUFFIX,
        day=day.isoformat(),
        slots=slots,
        seats=args.rush_seats,
        baseline_clients=args.rush_clients,
    )
    calendar_path = f"/book/{RUSH_PURPOSE}/?month={day:%Y-%m}"
    paths = {
        "trivial view": (result.book_host, "/bench/trivial/"),
        "lock + update one row": (result.book_host, "/bench/lock-update/"),
        "month calendar (booking city)": (result.book_host, calendar_path),
        "month calendar (browsing city)": (result.browse_host, calendar_path),
    }
    log("rush: warm-up", "rush")
    for host, path in paths.values():
        hammer(port, host, path, clients=args.rush_workers * args.rush_threads, total=20 * args.rush_workers)
    # Baselines first (alternating twice, so drift hits every kind), at the rush's concurrency.
    for round_ in range(2):
        for name, (host, path) in paths.items() if round_ == 0 else reversed(paths.items()):
            log(
                f"rush baseline: {name}, {args.rush_requests // 2} requests from {args.rush_clients} clients",
                "rush",
            )
            load = hammer(port, host, path, clients=args.rush_clients, total=args.rush_requests // 2)
            total = result.baselines.setdefault(name, Load())
            total.ms += load.ms
            total.statuses.update(load.statuses)
            total.seconds += load.seconds
    log(f"rush: {args.rush_clients} residents book {day} while {args.rush_browsers} browse", "rush")
    rush_run(port, result, day)
    log(f"rush done in {result.seconds:.1f} s: {dict(result.outcomes)}", "rush")
    result.check = rush_check(result, book)
    result.queries = {
        "month calendar": count_queries(result.book_host, calendar_path),
        "day page": count_queries(result.book_host, f"/book/{RUSH_PURPOSE}/{day.isoformat()}/"),
    }
    return result


def rush_section(result: RushResult, args: argparse.Namespace, header: str = "") -> list[str]:
    def ms(values: Sequence[float], q: float) -> str:
        return f"{percentile(values, q):.0f}" if values else "–"

    def statuses(load: Load) -> str:
        return ", ".join(f"{k}×{v}" for k, v in sorted(load.statuses.items()))

    check = result.check
    booked = result.outcomes.get("booked", 0)
    bookings_per_s = booked / result.seconds if result.seconds else 0.0
    flows_per_s = result.clients / result.seconds if result.seconds else 0.0
    trivial = result.baselines["trivial view"]
    lock_update = result.baselines["lock + update one row"]
    cal_book = result.baselines["month calendar (booking city)"]
    cal_browse = result.baselines["month calendar (browsing city)"]
    flow_requests = sum(load.count for load in result.steps.values())
    flow_rate = flow_requests / result.seconds if result.seconds else 0.0
    flow_ms = [m for load in result.steps.values() for m in load.ms]
    errors = sum(load.errors for load in result.steps.values()) + result.browse.errors
    overbooked = (
        check["overbooked_seats"]
        + len(check["mismatched"])
        + max(0, check["day_booked"] - check["day_seats"])
    )
    cal_ratio = cal_browse.rate / trivial.rate if trivial.rate else 0.0

    out = [
        "## 4. Booking rush: residents booking one day over HTTP while another city browses",
        "",
        *([header, ""] if header else []),
        f"A production-like server: gunicorn with `ops/gunicorn.conf.py` (gthread), `-w {result.workers} "
        f"--threads {result.threads}`, `--max-requests 0` (no worker recycling mid-measurement), settings "
        "`bench.settings_bench` (the project's, with two baseline views added to the city URLconf) and "
        "`MADOGUCHI_BENCH_LIMITS=true` (the residents' per-address limits and hold caps raised, since every client "
        "is 127.0.0.1), the bench's own database, cache in the "
        "database (no Redis, as `make run`). "
        f"Two new cities: `{result.book_host}` is booked, `{result.browse_host}` is browsed; both with the whole "
        f"booking window of slots from the default hours. The rush day {result.day} has {result.slots} slots × "
        f"{result.seats} seats = {check['day_seats']} seats for residents. "
        f"**{result.clients} booking clients** start together, each once through the resident flow for one "
        f"person on that day (GET month calendar → GET day → POST hold on a random time the day page shows free "
        f"→ GET form → POST confirm, CSRF token and cookies as a browser), while **{result.browsers} browsing "
        "clients** load the other city's month calendar (this month and the rush month) until the last booking "
        f"client is done. A new connection per request to 127.0.0.1 with the city's Host header, "
        f"{RUSH_TIMEOUT:.0f} s timeout. Baselines: on the same server and database just before, {args.rush_requests} "
        f"requests each from {result.baseline_clients} concurrent clients (two halves, in alternating order).",
        load_text("rush"),
        "",
        f"**Overbookings: {overbooked}** "
        + ("(none)" if overbooked == 0 else "**(MUST BE 0)**")
        + f". Checked in the database after the run over the {check['slots_checked']} slots holding seats: "
        f"taken ≤ seats and booked + held ≤ seats on every slot ({check['overbooked_seats']} seats over); taken = "
        f"seats of booked reservations + live holds on every slot ({len(check['mismatched'])} mismatched"
        + (": " + "; ".join(check["mismatched"][:5]) if check["mismatched"] else "")
        + f"); booked reservations on the day {check['day_booked']} ≤ its {check['day_seats']} resident seats. "
        f"The clients received {check['codes_client']} booking codes ({check['codes_unique']} distinct, "
        f"{check['codes_in_db']} found booked in the database; {check['reservations']} booked in the city in all); "
        f"{check['holds_left']} holds left (taken by clients whose confirmation failed; released by the periodic task after "
        "the hold time).",
        "",
        "Outcomes per booking client:",
        "",
        *table(
            ["outcome", "clients"],
            [[name, str(n)] for name, n in result.outcomes.most_common()]
            + ([["did not finish in time", str(result.unfinished)]] if result.unfinished else []),
        ),
        "",
        f"Errors (5xx, timeouts, connection failures): **{errors}** in the rush "
        f"({sum(load.count for load in result.steps.values())} booking-flow requests, {result.browse.count} browsing "
        f"requests); in the baselines: {sum(load.errors for load in result.baselines.values())}.",
        "",
        "Figures beside their baselines:",
        "",
    ]
    out += table(
        ["figure", "rush", "baseline", "ratio"],
        [
            [
                "bookings per second (booked / rush time)",
                f"{bookings_per_s:.1f} ({booked} in {result.seconds:.1f} s)",
                f"lock + update one row: {lock_update.rate:.1f} transactions/s",
                f"**{ratio(bookings_per_s, lock_update.rate)}**",
            ],
            [
                "resident flows per second (any outcome)",
                f"{flows_per_s:.1f}",
                f"lock + update one row: {lock_update.rate:.1f}/s",
                ratio(flows_per_s, lock_update.rate),
            ],
            [
                "availability page, requests/s (browsing city, no writes)",
                f"{cal_browse.rate:.1f}",
                f"trivial view: {trivial.rate:.1f}/s",
                f"**{cal_ratio:.2f}×** — target ≥ 0.50×: "
                + ("**met**" if cal_ratio >= 0.5 else "**not met**"),
            ],
            [
                "availability page, requests/s (booking city, before the rush)",
                f"{cal_book.rate:.1f}",
                f"trivial view: {trivial.rate:.1f}/s",
                ratio(cal_book.rate, trivial.rate),
            ],
            [
                "availability page while the rush runs (browsing city), requests/s",
                f"{result.browse.rate:.1f} (p50 {ms(result.browse.ms, 0.5)} ms)",
                f"same page without the rush: {cal_browse.rate:.1f}/s (p50 {ms(cal_browse.ms, 0.5)} ms)",
                ratio(result.browse.rate, cal_browse.rate),
            ],
            [
                "whole resident flow, requests/s (all five steps)",
                f"{flow_rate:.1f} ({flow_requests} requests)",
                f"trivial view: {trivial.rate:.1f}/s",
                f"**{ratio(flow_rate, trivial.rate)}**",
            ],
            [
                "whole resident flow, ms per request p50 / p95 / p99",
                f"{ms(flow_ms, 0.5)} / {ms(flow_ms, 0.95)} / {ms(flow_ms, 0.99)}",
                f"trivial view: {ms(trivial.ms, 0.5)} / {ms(trivial.ms, 0.95)} / {ms(trivial.ms, 0.99)}",
                f"**{ratio(percentile(flow_ms, 0.5), percentile(trivial.ms, 0.5))}** (p50)",
            ],
        ],
    )
    out += ["", "Latency per step in the rush and per baseline (ms, client side, answered requests):", ""]
    rows = []
    for name, load in [
        *((f"rush: {s}", result.steps[s]) for s in RUSH_STEPS),
        ("rush: browsing calendar", result.browse),
    ]:
        rows.append(
            [name, str(load.count), ms(load.ms, 0.5), ms(load.ms, 0.95), ms(load.ms, 0.99), statuses(load)]
        )
    for name, load in result.baselines.items():
        rows.append(
            [
                f"baseline: {name}",
                str(load.count),
                ms(load.ms, 0.5),
                ms(load.ms, 0.95),
                ms(load.ms, 0.99),
                f"{statuses(load)}; {load.rate:.1f}/s",
            ]
        )
    out += table(["requests", "n", "p50", "p95", "p99", "HTTP status (count)"], rows)
    out += [
        "",
        f"SQL queries per request (counted once through Django's test client, cache warm, not timed): month "
        f"calendar {result.queries.get('month calendar', '?')}, day page {result.queries.get('day page', '?')}. "
        "Without Redis every cache read is a query on the cache table, and the calendar's cached month is deleted "
        "by every hold and booking of that counter group, so during a rush the booking city's calendar rebuilds "
        'it often. A 409 ("just taken") also counts as an attack sign (4xx) in the cache. Lock + update: '
        f"the counter row ended at {check['lock_update_counter']} "
        f"(= {lock_update.statuses.get('200', 0) + 20 * result.workers} answered with 200, warm-up included, when "
        "no update was lost).",
        "",
    ]
    return out


# --- report ---------------------------------------------------------------------------------------------------


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def write_report(
    path: Path,
    *,
    started: dt.datetime,
    runtime: float,
    machine: dict[str, str],
    args: argparse.Namespace,
    bootstrap: float,
    creation: CreationResult,
    deploy: dict[str, list[DeployRun]],
    deploy_cities: int,
    pending: PendingCheck,
    latency: list[LatencyResult],
    errors: list[str],
    http_setup: str,
    rush: list[str],
) -> None:
    out: list[str] = [
        "# Madoguchi benchmark report",
        "",
        f"Generated by `bench/run.py` on {started:%Y-%m-%d %H:%M} UTC; whole run {runtime:.0f} s "
        f"(bootstrap of the fresh database {bootstrap:.1f} s). How to read and re-run it: bench/README.md.",
        "Every figure is compared with a baseline measured in the same run; absolute seconds are only "
        "comparable on the same machine.",
        "",
        "## Machine",
        "",
        *table(["", ""], [[key, value] for key, value in machine.items()]),
        f"\nRun options: `--cities {args.cities} --small {args.small} --samples {args.samples} "
        f"--deploy-repeats {args.deploy_repeats} --requests {args.requests} --warmup {args.warmup} "
        f"--workers {args.workers}`",
        "",
    ]

    # 1. creation
    small, small_analyzed, large, large_analyzed = creation.points
    out += [
        "## 1. City creation: clone from the template schema vs full migration",
        "",
        "`tenants.services.municipality_create` with `TENANT_CREATION` = `clone` and `migrate`, alternating, "
        f"{args.samples} cities each way per row, each from a new database session (as a console request). "
        "Each measured city is deleted right after, so every measurement in a row sees the same number of "
        'cities. Seconds per city; p95 is nearest-rank (with 10 samples, the slowest). "As found": the '
        'catalog statistics as the preceding creations left them; "catalog analyzed": right after `ANALYZE` of '
        f"the catalog tables a clone reads ({', '.join(CATALOG_TABLES)}), which took "
        + " and ".join(
            f"{seconds:.2f} s at {point.existing} cities"
            for seconds, point in zip(creation.analyze_seconds, (small, large), strict=True)
        )
        + ".",
        "",
    ]
    rows = []
    for point in creation.points:
        c, m = point.times["clone"], point.times["migrate"]
        rows.append(
            [
                f"{point.existing}, {point.label}",
                f"{median(c):.3f}",
                f"{p95(c):.3f}",
                f"{median(m):.3f}",
                f"{p95(m):.3f}",
                f"**{ratio(median(m), median(c))}**",
                f"{point.load:.1f}",
            ]
        )
    out += table(
        [
            "cities present",
            "clone median",
            "clone p95",
            "migrate median",
            "migrate p95",
            "migrate / clone (median)",
            "load avg",
        ],
        rows,
    )
    out += ["", load_text("creation")]

    def growth(mode: str, big: CreationPoint, base: CreationPoint) -> str:
        return f"**{ratio(median(big.times[mode]), median(base.times[mode]))}**"

    out += [
        "",
        f"**Growth with the number of cities** (median at {large.existing} / median at {small.existing}, like "
        f"for like; 1.00× = flat): clone {growth('clone', large_analyzed, small_analyzed)} with the catalog "
        f"analyzed, {growth('clone', large, small)} as found; migrate "
        f"{growth('migrate', large_analyzed, small_analyzed)} analyzed, {growth('migrate', large, small)} as "
        "found.",
        "",
        f"Clone time while filling from {small.existing} to {large.existing} cities, one clone after another, "
        "nothing analyzed by the bench (median per bucket of cities present). Autovacuum analyzed one of the "
        "catalog tables above "
        + (
            "when " + ", ".join(str(n) for n in creation.autoanalyzed_at) + " cities were present."
            if creation.autoanalyzed_at
            else "at no point of the fill."
        ),
        "",
    ]
    buckets: dict[int, list[float]] = {}
    width = max(5, round((large.existing - small.existing) / 8))
    for existing, seconds in creation.fill:
        start = small.existing + ((existing - small.existing) // width) * width
        buckets.setdefault(start, []).append(seconds)
    first = median(buckets[min(buckets)]) if buckets else 0.0
    out += table(
        ["cities present", "clones", "median s", "p95 s", "vs first bucket"],
        [
            [
                f"{start}–{start + width - 1}",
                str(len(values)),
                f"{median(values):.3f}",
                f"{p95(values):.3f}",
                ratio(median(values), first),
            ]
            for start, values in sorted(buckets.items())
        ],
    )
    out += [
        "",
        "Is a cloned city the same as a migrated one? (the first pair measured; the schema's own name taken out "
        "of definitions, names compared separately)",
        "",
        *table(
            ["aspect", "clone", "migrate", "verdict"],
            [list(row) for row in creation.comparison],
        ),
        "",
    ]

    # 2. deploy
    def best(variant: str) -> float:
        return median([r.seconds for r in deploy[variant]])

    ours = best("ours")
    out += [
        f"## 2. No-op deploy migration over {deploy_cities} cities",
        "",
        "`migrate_schemas` (shared + tenants, as a deploy runs it) with every schema up to date, each executor in "
        f"its own process, rounds rotated, median of {args.deploy_repeats} runs ({STOCK_DEPLOY_ROUNDS} for the "
        "stock executors, which take most of the time). Seconds inside the command; the "
        "process column adds Python and Django start-up. Per city = command seconds / cities.",
        load_text("deploy"),
        "",
    ]
    rows = []
    for variant, label in DEPLOY_VARIANTS.items():
        runs = deploy[variant]
        rows.append(
            [
                label,
                f"{best(variant):.2f}",
                f"{best(variant) / deploy_cities * 1000:.1f}",
                f"{median([r.wall for r in runs]):.2f}",
                f"**{ratio(best(variant), ours)}**",
                runs[-1].note,
            ]
        )
    out += table(["executor", "seconds", "ms per city", "process s", "vs ours", "note"], rows)
    out += [
        "",
        f"**stock/ours: {ratio(best('stock:standard'), ours)}** (stock standard executor), "
        f"{ratio(best('stock:multiprocessing'), ours)} (stock multiprocessing); "
        f"smart-executor/ours: {ratio(best('smart:multiprocessing'), ours)} (multiprocessing), "
        f"{ratio(best('smart:standard'), ours)} (standard).",
        "",
        f"Skipping must not skip too much: `{pending.removed}` was deleted from `{pending.schema}`'s "
        f"django_migrations, then the project's deploy ran: "
        + ("re-applied and recorded" if pending.restored else "**NOT re-applied**")
        + f" in {pending.run.seconds:.2f} s ({pending.run.note}); schemas still pending afterwards: "
        + (", ".join(pending.pending_after) or "none")
        + ".",
        "",
    ]

    # 3. latency
    out += [
        "## 3. Request latency: a city's page vs the vendor's page",
        "",
        f"gunicorn (`-w {args.workers}`, sync workers, production settings: DEBUG off) on 127.0.0.1; "
        f"{args.warmup} warm-up then {args.requests} sequential requests per host, city and public alternating, "
        f"a new connection each (sync workers close it). City host `{HTTP_CITY}{CITY_HOST_SUFFIX}`, public host "
        f"`{PUBLIC_HOST}`, {deploy_cities} cities in the Domain table. Milliseconds per request, client side. "
        f"Staff pages: {http_setup}.",
        load_text("latency"),
        "",
    ]
    rows = []
    for result in latency:
        statuses = {
            kind: ", ".join(f"{code}×{n}" for code, n in sorted(c.items()))
            for kind, c in result.statuses.items()
        }
        rows.append(
            [
                f"`{result.path}`",
                f"{median(result.city_ms):.2f}",
                f"{p95(result.city_ms):.2f}",
                f"{median(result.public_ms):.2f}",
                f"{p95(result.public_ms):.2f}",
                f"**{ratio(median(result.city_ms), median(result.public_ms))}**",
                f"{result.queries.get('city', '?')} / {result.queries.get('public', '?')}",
                f"city {statuses['city']}; public {statuses['public']}",
            ]
        )
    out += table(
        [
            "path",
            "city median",
            "city p95",
            "public median",
            "public p95",
            "city / public (median)",
            "SQL queries city / public",
            "HTTP status",
        ],
        rows,
    )
    out += [
        "",
        "`/` is a different view on each host (the city's home vs the vendor's home, which lists every active "
        "city), so its ratio mixes routing with page content. `/accounts/login/` is the same allauth view on both "
        "hosts: its ratio is routing to a city schema plus what a city adds to a staff page (its allowed "
        "networks, policy and appearance; compare the query counts). SQL queries: what one request runs (counted "
        "once through Django's test client, not timed); a count that grows with the number of cities is a query "
        "per row. A status other than 200 means the page was not ready when this report was generated, and its "
        "figure measures an error page.",
        "",
    ]
    if errors:
        out += ["Exceptions the app logged during the run:", "", *(f"- `{line}`" for line in errors), ""]
    out += rush
    path.write_text("\n".join(out))


RUSH_HEADING = "## 4. Booking rush"


def splice_rush(path: Path, section: list[str], heading: str = RUSH_HEADING) -> None:
    """`--only rush`/`--only issuance`: replace that section of an existing report (or append it), leaving the
    rest, the sections after it included, as it was."""
    text = path.read_text() if path.exists() else "# Madoguchi benchmark report\n"
    head, found, old = text.partition(heading)
    if not found:
        head = text.rstrip("\n") + "\n\n"
    _old, next_found, tail = old.partition("\n## ")
    rest = "\n\n## " + tail if next_found else ""
    path.write_text(head + "\n".join(section).rstrip("\n") + rest + ("" if rest else "\n"))


ISSUANCE_HEADING = "## 5. Card import"


def run_issuance(box: Sandbox, cities: Cities, args: argparse.Namespace, header: str = "") -> list[str]:
    """Section 5 (bench/issuance.py): the card-list import vs COPY, the counter search vs an indexed lookup."""
    from bench.issuance import bench_issuance, issuance_section

    result = bench_issuance(
        cities, box.data_dir, rows=args.issuance_rows, samples=args.issuance_samples, log=log
    )
    return issuance_section(result, load_text("issuance"), header)


# --- main -----------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cities", type=int, default=200, help="cities present for the large measurements")
    parser.add_argument(
        "--small", type=int, default=10, help="cities present for the small creation measurement"
    )
    parser.add_argument("--samples", type=int, default=10, help="cities created each way at each size")
    parser.add_argument("--deploy-repeats", type=int, default=3, help="runs of each deploy executor")
    parser.add_argument("--requests", type=int, default=500, help="measured requests per host and path")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured requests per host and path first")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--rush-clients", type=int, default=200, help="booking clients in the rush")
    parser.add_argument(
        "--rush-browsers", type=int, default=40, help="clients browsing the other city meanwhile"
    )
    parser.add_argument("--rush-seats", type=int, default=4, help="seats per slot of the rush cities")
    parser.add_argument("--rush-workers", type=int, default=4, help="gunicorn workers for the rush")
    parser.add_argument(
        "--rush-threads", type=int, default=4, help="threads per gunicorn worker for the rush"
    )
    parser.add_argument(
        "--rush-requests",
        type=int,
        default=2000,
        help="requests per baseline of the rush (trivial view, ...)",
    )
    parser.add_argument(
        "--only",
        choices=["rush", "issuance"],
        help="run only this section and replace it in the existing report (the other sections are kept)",
    )
    parser.add_argument("--issuance-rows", type=int, default=100_000, help="rows of the generated card list")
    parser.add_argument(
        "--issuance-samples", type=int, default=2000, help="cards looked up in the search bench"
    )
    parser.add_argument("--report", type=Path, default=ROOT / "bench" / "report.md")
    parser.add_argument("--keep", action="store_true", help="leave the database running (prints where)")
    parser.add_argument("--worker-deploy", metavar="VARIANT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker_deploy is None and not (2 <= args.small < args.cities and args.samples >= 1):
        parser.error("need 2 <= --small < --cities and --samples >= 1")
    return args


@contextlib.contextmanager
def sandbox(keep: bool) -> Iterator[Sandbox]:
    box = sandbox_open()
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


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if args.worker_deploy:
        worker_deploy(args.worker_deploy)
        return 0
    started_at = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    with sandbox(args.keep) as box:
        log(f"fresh database under {box.data_dir}" if box.embedded else f"fresh database {BENCH_DATABASE}")
        bootstrap = manage("bootstrap")
        django_setup()
        assert_isolated(box)
        machine = machine_info()

        cities = Cities()
        if args.only == "issuance":
            header = (
                f"Measured on its own (`--only issuance`) on {started_at:%Y-%m-%d %H:%M} UTC, code "
                f"{machine['Code']}, {machine['CPU']}, PostgreSQL {machine['PostgreSQL']}; the other sections "
                "may come from an earlier run."
            )
            splice_rush(args.report, run_issuance(box, cities, args, header), ISSUANCE_HEADING)
            log(f"wrote the issuance section of {args.report} in {time.perf_counter() - started:.0f} s")
            return 0
        if args.only == "rush":
            rush = bench_rush(box, cities, args)
            header = (
                f"Measured on its own (`--only rush`) on {started_at:%Y-%m-%d %H:%M} UTC, code "
                f"{machine['Code']}, {machine['CPU']}, PostgreSQL {machine['PostgreSQL']}; the sections above "
                "may come from an earlier run."
            )
            splice_rush(args.report, rush_section(rush, args, header))
            errors = app_errors(box)
            if errors:
                log("exceptions the app logged: " + "; ".join(errors))
            log(f"wrote the rush section of {args.report} in {time.perf_counter() - started:.0f} s")
            return 0
        creation = bench_creation(cities, target=args.cities, small=args.small, samples=args.samples)
        log("creation done", "creation")

        from django.db import connection

        deploy_cities = cities.count()
        connection.close()
        deploy = bench_deploy(box.data_dir, args.deploy_repeats)
        log("deploy runs done", "deploy")
        pending = check_pending_is_migrated(box.data_dir)
        connection.close()

        http_setup = allow_loopback_staff(HTTP_CITY)
        connection.close()
        port = gunicorn_start(box, args.workers)
        latency = bench_latency(port, ["/", "/accounts/login/"], args.requests, args.warmup)
        log("latency done", "latency")
        rush = bench_rush(box, cities, args)
        issuance = run_issuance(box, cities, args)

        write_report(
            args.report,
            started=started_at,
            runtime=time.perf_counter() - started,
            machine=machine,
            args=args,
            bootstrap=bootstrap,
            creation=creation,
            deploy=deploy,
            deploy_cities=deploy_cities,
            pending=pending,
            latency=latency,
            errors=app_errors(box),
            http_setup=http_setup,
            rush=rush_section(rush, args),
        )
        splice_rush(args.report, issuance, ISSUANCE_HEADING)
    log(f"wrote {args.report} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
