"""Section 7 of bench/report.md (part `scale`, only with `--part scale`): one deployment with every Japanese
municipality, 1,741 city schemas, provisioned as the console does (clones of the template schema, bench/tenancy.py's
Cities), and what they cost:

- disk: the database, one city's schema, the system catalog (rows and bytes of pg_class, pg_attribute, ...);
- creating one more city with 1,741 present (target < 1 s), and the clone time while filling up;
- the no-op deploy (`migrate_schemas` with the project's executor, target <= 60 s) and the pending-migration check
  /readyz runs;
- a database backend's memory after it touched 1, 100 and every city (catalog caches grow with the relations a
  session has opened: pg_backend_memory_contexts and /proc/<pid>/status);
- a Celery worker's memory and the duration of a fan-out to every city (the reminder scan, as beat sends it);
- pg_dump of the whole database (it locks every table in one transaction: max_locks_per_transaction) and of one
  city (`pg_dump -n`, the nightly per-city dump);
- request latency of the first and the last city created, through gunicorn.

The database is `madoguchi_scale` on the server of DATABASE_URL (or an embedded PostgreSQL without it), dropped at
the end. Slow (tens of minutes on 2 cores): never part of `make bench` without PART, nor of `make test`. The pure
arithmetic below (memory contexts, /proc, lock slots, buckets, the log count, the section's text) is tested in
tests/bench/test_scale.py.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    CITY_HOST_SUFFIX,
    PYTHON,
    ROOT,
    Sandbox,
    gunicorn_start,
    gunicorn_stop,
    http_get,
    load_text,
    log,
    median,
    percentile,
    table,
)

HEADING = "## 7. Scale"
SCALE_DATABASE = "madoguchi_scale"
JAPAN_MUNICIPALITIES = 1741  # 市町村 (792 cities, 743 towns, 183 villages) and the 23 special wards of Tokyo
CREATION_TARGET_S = 1.0
DEPLOY_TARGET_S = 60.0
MEMORY_POINTS = (1, 100)  # cities touched by one backend, besides all of them
CATALOG = (
    "pg_class",
    "pg_attribute",
    "pg_attrdef",
    "pg_constraint",
    "pg_depend",
    "pg_index",
    "pg_type",
    "pg_namespace",
    "pg_statistic",
)
LATENCY_PATHS = (("/", "resident: the city's home"), ("/accounts/login/", "staff: login"))
FANOUT_TASK = "apps.booking.tasks.send_reminders"
KIB = 1024
MIB = 1024 * 1024


# --- pure arithmetic (tested) ---------------------------------------------------------------------------------


def context_totals(rows: Sequence[tuple[str, str | None, int]]) -> tuple[int, int]:
    """(all memory contexts, the catalog caches) in bytes from pg_backend_memory_contexts rows (name, parent,
    total_bytes): the caches are CacheMemoryContext and the contexts directly under it (one per cached index, ...)."""
    total = sum(size for _name, _parent, size in rows)
    cache = sum(
        size for name, parent, size in rows if name == "CacheMemoryContext" or parent == "CacheMemoryContext"
    )
    return total, cache


def parse_proc_status(text: str) -> dict[str, int]:
    """VmRSS, RssAnon, ... of /proc/<pid>/status, in bytes."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            values[key.strip()] = int(parts[0]) * KIB
    return values


def lock_slots(max_locks: int, max_connections: int, max_prepared: int) -> int:
    """The shared lock table's size: max_locks_per_transaction x (max_connections + max_prepared_transactions)."""
    return max_locks * (max_connections + max_prepared)


def max_locks_needed(tables: int, max_connections: int, max_prepared: int, headroom: float = 1.25) -> int:
    """The max_locks_per_transaction a pg_dump of `tables` tables needs (one AccessShareLock per table, all held in
    one transaction), with headroom for the rest of the cluster's sessions, rounded up to a multiple of 64."""
    per_slot = math.ceil(tables * headroom / (max_connections + max_prepared))
    return max(64, 64 * math.ceil(per_slot / 64))


def buckets(points: Sequence[tuple[int, float]], count: int = 8) -> list[tuple[int, int, list[float]]]:
    """Group (cities present, seconds) into about `count` equal ranges of cities present: (first, last, values)."""
    if not points:
        return []
    low = min(existing for existing, _ in points)
    high = max(existing for existing, _ in points)
    width = max(1, math.ceil((high - low + 1) / count))
    grouped: dict[int, list[float]] = {}
    for existing, seconds in points:
        grouped.setdefault(low + (existing - low) // width * width, []).append(seconds)
    return [(start, min(start + width - 1, high), values) for start, values in sorted(grouped.items())]


_SUCCEEDED = re.compile(r"Task (?P<name>[\w.]+)\[[0-9a-f-]+\] succeeded")


def tasks_succeeded(log_text: str, task: str) -> int:
    """How many runs of `task` a Celery worker's log reports as succeeded."""
    return sum(1 for match in _SUCCEEDED.finditer(log_text) if match["name"] == task)


def size(value: float) -> str:
    if value >= 10 * 1024 * MIB:
        return f"{value / 1024 / MIB:.1f} GiB"
    if value >= 10 * MIB:
        return f"{value / MIB:.0f} MiB"
    if value >= MIB:
        return f"{value / MIB:.1f} MiB"
    return f"{value / KIB:.0f} KiB"


# --- results --------------------------------------------------------------------------------------------------


@dataclass
class Disk:
    cities: int
    database: int
    schemas: dict[str, int]  # schema -> bytes (tables with their indexes and TOAST, sequences)
    catalog: dict[str, tuple[int, int]]  # catalog table -> (rows, bytes with indexes)


@dataclass
class Memory:
    touched: int  # cities whose every table this backend opened
    relations: int  # tables opened (their indexes come along in the planner)
    seconds: float  # to touch the cities since the previous point
    contexts: int  # all memory contexts, bytes
    cache: int  # CacheMemoryContext and its children, bytes
    rss: int
    rss_anon: int


@dataclass
class Dump:
    label: str
    cities: int
    tables: int
    seconds: float
    ok: bool
    bytes: int
    error: str = ""


@dataclass
class Worker:
    concurrency: int
    sent: int
    send_seconds: float
    done: int
    seconds: float  # from the first send to the last task's success
    rss_before: int
    rss_after: int
    backends: list[int]  # RssAnon of each database backend the worker holds afterwards, bytes
    broker: str = ""
    error: str = ""


@dataclass
class Latency:
    path: str
    label: str
    first_ms: list[float]
    last_ms: list[float]
    statuses: dict[str, dict[int, int]]


@dataclass
class ScaleResult:
    target: int
    first: str = ""
    last: str = ""
    fill: list[tuple[int, float]] = field(default_factory=list)
    fill_seconds: float = 0.0
    analyzed_during_fill: int = 0  # ANALYZE runs of the catalog by catalog_analyze_if_stale during the fill
    before: Disk | None = None
    after: Disk | None = None
    tables_per_city: int = 0
    relations_per_city: dict[str, int] = field(default_factory=dict)  # relkind label -> count
    creation: list[float] = field(default_factory=list)
    slowest_sql: list[tuple[float, str]] = field(default_factory=list)  # in the slowest creation
    pending_check: list[float] = field(default_factory=list)
    deploy: list[tuple[float, float, str]] = field(default_factory=list)  # (command s, process s, note)
    memory: list[Memory] = field(default_factory=list)
    worker: Worker | None = None
    dumps: list[Dump] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    latency: list[Latency] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


# --- the database, raw ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def raw_connection() -> Iterator[Any]:
    """A new session of its own (autocommit), outside django-tenants' search_path handling."""
    from django.db import connections

    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    wrapper.connection.autocommit = True
    try:
        yield wrapper.connection
    finally:
        wrapper.close()


def fetch(conn: Any, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with conn.cursor() as cursor:
        cursor.execute(query, params)
        return list(cursor.fetchall())


def city_schemas() -> list[str]:
    from tenants.selectors import municipality_list

    return list(municipality_list().order_by("pk").values_list("schema_name", flat=True))


SCHEMA_SIZES = """
SELECT n.nspname, coalesce(sum(CASE WHEN c.relkind IN ('r', 'm', 'p') THEN pg_total_relation_size(c.oid)
                                    WHEN c.relkind = 'S' THEN pg_relation_size(c.oid) ELSE 0 END), 0)
FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid
WHERE n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema'
GROUP BY n.nspname
"""


def measure_disk(conn: Any, cities: int) -> Disk:
    database = int(fetch(conn, "SELECT pg_database_size(current_database())")[0][0])
    schemas = {name: int(bytes_) for name, bytes_ in fetch(conn, SCHEMA_SIZES)}
    catalog = {}
    for name in CATALOG:
        rows, bytes_ = fetch(
            conn, f"SELECT count(*), pg_total_relation_size('pg_catalog.{name}') FROM pg_catalog.{name}"
        )[0]
        catalog[name] = (int(rows), int(bytes_))
    return Disk(cities=cities, database=database, schemas=schemas, catalog=catalog)


def relations_of(conn: Any, schema: str) -> dict[str, int]:
    kinds = {
        "r": "tables",
        "i": "indexes",
        "S": "sequences",
        "v": "views",
        "t": "TOAST tables",
        "p": "tables",
    }
    counts: dict[str, int] = {}
    for kind, count in fetch(
        conn,
        "SELECT c.relkind, count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s GROUP BY c.relkind",
        [schema],
    ):
        counts[kinds.get(kind, kind)] = counts.get(kinds.get(kind, kind), 0) + int(count)
    toast = fetch(
        conn,
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.reltoastrelid <> 0",
        [schema],
    )[0][0]
    counts["TOAST tables"] = int(
        toast
    )  # they live in pg_toast, one (with its index) per table with wide columns
    return counts


def server_settings(conn: Any) -> dict[str, str]:
    names = (
        "server_version",
        "max_connections",
        "max_locks_per_transaction",
        "max_prepared_transactions",
        "shared_buffers",
        "autovacuum",
    )
    return {name: str(fetch(conn, f"SHOW {name}")[0][0]) for name in names}


def proc_memory(pid: int) -> dict[str, int]:
    try:
        return parse_proc_status(Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return {}


# --- the steps ------------------------------------------------------------------------------------------------


def fill(cities: Any, result: ScaleResult, dump_at: int, box: Sandbox, budget_s: float = 0) -> None:
    """Clone cities up to the target, one console-like creation after another, timing each; pg_dump of the whole
    database once on the way (`dump_at` cities), while the lock table still holds every table. With a budget
    (seconds, 0: none) the fill stops when it is spent, and the rest is measured at the cities made by then."""
    from django.db import connection

    existing = cities.count()
    analyses = catalog_analyze_runs()
    started = time.perf_counter()
    last_log = started
    for _ in range(max(0, result.target - existing)):  # bounded: one creation per missing city
        if budget_s and time.perf_counter() - started > budget_s:
            log(f"fill budget spent: {existing} of {result.target} cities", "scale-fill")
            break
        slug, elapsed = cities.create("clone")
        result.fill.append((existing, elapsed))
        existing += 1
        if existing == 1:
            result.first = slug
        if existing == dump_at:
            connection.close()
            result.dumps.append(dump_whole(box, existing, "whole database (on the way)"))
        if time.perf_counter() - last_log > 60:
            last_log = time.perf_counter()
            log(f"{existing} cities, last clone {elapsed:.2f} s", "scale-fill")
    result.fill_seconds = time.perf_counter() - started
    result.analyzed_during_fill = catalog_analyze_runs() - analyses
    schemas = city_schemas()
    result.first, result.last = schemas[0], schemas[-1]


def catalog_analyze_runs() -> int:
    """Manual and automatic analyzes of pg_class so far (catalog_analyze_if_stale's ANALYZE counts here)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT analyze_count + autoanalyze_count FROM pg_stat_sys_tables "
            "WHERE schemaname = 'pg_catalog' AND relname = 'pg_class'"
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@contextlib.contextmanager
def timed_sql(into: list[tuple[float, str]]) -> Iterator[None]:
    from django.db import connection

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            into.append((time.perf_counter() - started, " ".join(str(sql).split())[:160]))

    with connection.execute_wrapper(wrapper):
        yield


def creation(cities: Any, samples: int) -> tuple[list[float], list[tuple[float, str]]]:
    """Create one more city `samples` times with the target present, each deleted right after (so each sees the
    same number of cities); returns the times and the five slowest SQL statements of the slowest creation."""
    times: list[float] = []
    slowest: list[tuple[float, str]] = []
    for _ in range(samples):
        statements: list[tuple[float, str]] = []
        with timed_sql(statements):
            slug, elapsed = cities.create("clone")
        if not times or elapsed > max(times):
            slowest = sorted(statements, reverse=True)[:5]
        times.append(elapsed)
        cities.delete(slug)
    return times, slowest


def pending_check(repeats: int = 3) -> list[float]:
    """What /readyz's first probe and a deploy's skip cost: one query over every schema's django_migrations."""
    from tenants.migration import expected_migrations, schemas_with_pending_migrations

    schemas = ["public", *city_schemas()]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        pending = schemas_with_pending_migrations(schemas, expected_migrations())
        times.append(time.perf_counter() - started)
        if pending:
            raise RuntimeError(f"schemas with pending migrations before the deploy: {pending[:5]}")
    return times


def deploy(box: Sandbox, repeats: int) -> list[tuple[float, float, str]]:
    from django.db import connection

    from bench.tenancy import run_deploy

    connection.close()
    runs = []
    for index in range(repeats):
        log(f"no-op deploy {index + 1}/{repeats}", "scale-deploy")
        run = run_deploy("ours", box.data_dir)
        runs.append((run.seconds, run.wall, run.note))
    return runs


def backend_memory(schemas: Sequence[str]) -> list[Memory]:
    """One new session opens every table of 1, 100, then every city (SELECT ... LIMIT 0: parsing and planning
    open the table and its indexes, as any query does) and reports its memory after each step."""
    from psycopg import sql

    points = sorted({n for n in (*MEMORY_POINTS, len(schemas)) if n <= len(schemas)})
    out: list[Memory] = []
    with raw_connection() as conn:
        pid = int(fetch(conn, "SELECT pg_backend_pid()")[0][0])
        tables = [
            name
            for (name,) in fetch(
                conn,
                "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename",
                [schemas[0]],
            )
        ]

        def snapshot(touched: int, relations: int, seconds: float) -> Memory:
            total, cache = context_totals(
                [
                    (str(name), parent, int(bytes_))
                    for name, parent, bytes_ in fetch(
                        conn, "SELECT name, parent, total_bytes FROM pg_backend_memory_contexts"
                    )
                ]
            )
            proc = proc_memory(pid)
            return Memory(
                touched=touched,
                relations=relations,
                seconds=seconds,
                contexts=total,
                cache=cache,
                rss=proc.get("VmRSS", 0),
                rss_anon=proc.get("RssAnon", 0),
            )

        out.append(snapshot(0, 0, 0.0))
        touched = relations = 0
        for point in points:
            started = time.perf_counter()
            with conn.cursor() as cursor:
                for schema in schemas[touched:point]:
                    for name in tables:
                        cursor.execute(
                            sql.SQL("SELECT * FROM {}.{} LIMIT 0").format(
                                sql.Identifier(schema), sql.Identifier(name)
                            )
                        )
                        relations += 1
            touched = point
            out.append(snapshot(touched, relations, time.perf_counter() - started))
            log(f"backend memory: {touched} cities touched", "scale-memory")
    return out


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _tree_rss(pid: int) -> int:
    return sum(proc_memory(p).get("VmRSS", 0) for p in (pid, *_children(pid)))


REDIS_CLAIM = "madoguchi-scale-bench"


@contextlib.contextmanager
def redis_broker(base: str | None) -> Iterator[str | None]:
    """An empty database of the Redis at `base` (11-15, claimed with a key), emptied again afterwards: the broker
    production uses (the filesystem transport polls once a second and caps a worker near concurrency tasks/s)."""
    if not base:
        yield None
        return
    import redis

    chosen: Any = None
    url = ""
    for number in range(11, 16):
        url = f"{base.rstrip('/')}/{number}"
        try:
            client = redis.Redis.from_url(url, socket_timeout=5)
            if client.dbsize() == 0 and client.set(REDIS_CLAIM, "1", nx=True):
                chosen = client
                break
        except redis.RedisError:
            break
    if chosen is None:
        log(f"no empty Redis database at {base} (11-15): the filesystem broker instead", "scale-worker")
        yield None
        return
    try:
        yield url
    finally:
        for key in list(chosen.scan_iter(count=1000)):  # only what this run wrote: the database was empty
            chosen.delete(key)


def worker_fanout(box: Sandbox, concurrency: int, timeout: float, redis_url: str | None) -> Worker:
    """A Celery worker (prefork, `concurrency` processes; Redis as the broker when given, else the sandbox's
    filesystem broker), the reminder scan fanned out to every city as beat sends it; its memory before and after,
    and how long the whole fan-out took."""
    from celery import current_app
    from django.db import connection
    from django_tenants.utils import schema_context

    from apps.booking.reminders.tasks import send_reminders
    from madoguchi.celery import ensure_broker_dirs
    from tenants.fanout import for_each_city

    ensure_broker_dirs()
    log_path = box.data_dir / "worker.log"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'platform'}{os.pathsep}{ROOT}"}
    queue = str(current_app.conf.task_default_queue)
    if redis_url:
        # This process sends through the same Redis (nothing was sent before: the producer pool is made now).
        queue = f"scale-{os.getpid()}"
        current_app.conf.update(broker_url=redis_url, broker_transport_options={}, task_default_queue=queue)
        env.update({"REDIS_URL": redis_url, "MADOGUCHI_CELERY_QUEUE": queue})
    process = subprocess.Popen(
        [
            str(Path(PYTHON).with_name("celery")),
            "-A",
            "madoguchi",
            "worker",
            "-c",
            str(concurrency),
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
    )
    result = Worker(concurrency, 0, 0.0, 0, 0.0, 0, 0, [], broker="Redis" if redis_url else "filesystem")
    try:
        # Ready: one task through the queue (sent from the first city, as a fan-out sends them).
        with schema_context(city_schemas()[0]):
            send_reminders.delay()
        deadline = time.monotonic() + 120
        while tasks_succeeded(log_path.read_text(errors="replace"), FANOUT_TASK) < 1:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "the Celery worker did not run a first task:\n" + log_path.read_text()[-3000:]
                )
            time.sleep(0.5)
        result.rss_before = _tree_rss(process.pid)
        log("worker ready; fanning out", "scale-worker")
        started = time.perf_counter()
        result.sent = for_each_city(send_reminders)
        result.send_seconds = time.perf_counter() - started
        connection.set_schema_to_public()  # type: ignore[attr-defined]  # django-tenants' backend
        deadline = time.monotonic() + timeout
        while (done := tasks_succeeded(log_path.read_text(errors="replace"), FANOUT_TASK) - 1) < result.sent:
            if process.poll() is not None or time.monotonic() > deadline:
                result.error = f"{done} of {result.sent} tasks done when the wait ended"
                break
            time.sleep(0.5)
        result.done = max(0, done)
        result.seconds = time.perf_counter() - started
        result.rss_after = _tree_rss(process.pid)
        with raw_connection() as conn:
            mine = int(fetch(conn, "SELECT pg_backend_pid()")[0][0])
            pids = [
                int(pid)
                for (pid,) in fetch(
                    conn,
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND backend_type = 'client backend' AND pid <> %s",
                    [mine],
                )
            ]
        connection.close()
        # A backend whose connection closed meanwhile has no /proc entry left: not counted.
        result.backends = sorted(m for pid in pids if (m := proc_memory(pid).get("RssAnon", 0)))
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
    return result


def _dump_env() -> tuple[list[str], dict[str, str]]:
    from django.conf import settings

    db = settings.DATABASES["default"]
    args = [
        "-h",
        str(db["HOST"]),
        "-p",
        str(db["PORT"] or 5432),
        "-U",
        str(db["USER"]),
        "-d",
        str(db["NAME"]),
    ]
    env = {**os.environ}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return args, env


def _dump(box: Sandbox, label: str, cities: int, tables: int, extra: Sequence[str]) -> Dump:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        return Dump(label, cities, tables, 0.0, False, 0, "pg_dump not installed")
    target = box.data_dir / "scale.dump"
    args, env = _dump_env()
    started = time.perf_counter()
    done = subprocess.run(
        [pg_dump, *args, "-Fc", "-Z", "1", "-f", str(target), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    seconds = time.perf_counter() - started
    written = target.stat().st_size if target.exists() else 0
    target.unlink(missing_ok=True)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    error = " / ".join(line.strip() for line in lines[-3:]) if done.returncode else ""
    return Dump(label, cities, tables, seconds, done.returncode == 0, written, error)


def total_tables() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema'"
        )
        return int(cursor.fetchone()[0])


def dump_whole(box: Sandbox, cities: int, label: str) -> Dump:
    log(f"pg_dump of the whole database at {cities} cities", "scale-dump")
    return _dump(box, label, cities, total_tables(), [])


def dumps_per_city(box: Sandbox, schemas: Sequence[str]) -> list[Dump]:
    picks = list(dict.fromkeys([schemas[0], schemas[len(schemas) // 2], schemas[-1]]))
    out = []
    for schema in picks:
        out.append(_dump(box, f"one city (`pg_dump -n {schema}`)", len(schemas), 0, ["-n", schema]))
    return out


def latency(box: Sandbox, first: str, last: str, requests: int, warmup: int) -> list[Latency]:
    from bench.latency import allow_loopback_staff

    for schema in dict.fromkeys((first, last)):
        allow_loopback_staff(schema)
    from django.db import connection

    connection.close()
    port = gunicorn_start(box, 2)
    out = []
    try:
        hosts = {"first": first + CITY_HOST_SUFFIX, "last": last + CITY_HOST_SUFFIX}
        for path, label in LATENCY_PATHS:
            log(f"HTTP {path}: first vs last city", "scale-latency")
            for _ in range(warmup):
                for host in hosts.values():
                    http_get(port, host, path)
            row = Latency(path, label, [], [], {"first": {}, "last": {}})
            for index in range(requests):
                order = ("first", "last") if index % 2 == 0 else ("last", "first")
                for which in order:
                    status, elapsed = http_get(port, hosts[which], path)
                    row.statuses[which][status] = row.statuses[which].get(status, 0) + 1
                    (row.first_ms if which == "first" else row.last_ms).append(elapsed)
            out.append(row)
    finally:
        gunicorn_stop(box)
    return out


def interrupt_on_sigterm() -> None:
    """SIGTERM ends the run like Ctrl-C, so the sandbox still drops its database (a background job started by a
    non-interactive shell ignores SIGINT)."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def bench_scale(box: Sandbox, cities: Any, args: argparse.Namespace) -> ScaleResult:
    from django.db import connection

    interrupt_on_sigterm()
    result = ScaleResult(target=args.scale_cities)
    with raw_connection() as conn:
        result.settings = server_settings(conn)
        result.before = measure_disk(conn, cities.count())
    log(f"filling up to {result.target} cities (clone, as the console)", "scale-fill")
    fill(cities, result, args.scale_dump_at, box, args.scale_fill_minutes * 60)
    schemas = city_schemas()
    log(f"{len(schemas)} cities in {result.fill_seconds:.0f} s", "scale-fill")
    with raw_connection() as conn:
        result.after = measure_disk(conn, len(schemas))
        result.relations_per_city = relations_of(conn, schemas[-1])
    result.tables_per_city = result.relations_per_city.get("tables", 0)

    log(f"creating one more city with {len(schemas)} present ({args.scale_samples} samples)", "scale-create")
    result.creation, result.slowest_sql = creation(cities, args.scale_samples)
    result.pending_check = pending_check()
    connection.close()
    result.deploy = deploy(box, args.scale_deploy_repeats)
    result.memory = backend_memory(schemas)
    connection.close()
    try:
        with redis_broker(args.scale_redis) as redis_url:
            result.worker = worker_fanout(
                box, args.scale_worker_concurrency, timeout=args.scale_fanout_timeout, redis_url=redis_url
            )
    except RuntimeError as exc:
        result.errors.append(str(exc)[:500])
    connection.close()
    result.dumps.append(dump_whole(box, len(schemas), "whole database"))
    result.dumps += dumps_per_city(box, schemas)
    result.latency = latency(box, result.first, result.last, args.scale_requests, args.scale_warmup)
    return result


# --- the section ----------------------------------------------------------------------------------------------


def _met(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def scale_section(result: ScaleResult, header: str = "") -> list[str]:
    """Section 7's lines."""
    assert result.before is not None
    assert result.after is not None
    before, after = result.before, result.after
    added = max(1, after.cities - before.cities)
    s = result.settings
    city_sizes = [bytes_ for name, bytes_ in after.schemas.items() if name.startswith("bench")]
    out = [
        f"{HEADING}: {after.cities:,} cities in one database",
        "",
        *([header, ""] if header else []),
        *(
            [
                f"**The fill stopped at its time budget (`--scale-fill-minutes`): {after.cities:,} of "
                f"{result.target:,} cities.** Every figure below is at {after.cities:,} cities; docs/scale.md "
                "extrapolates per city.",
                "",
            ]
            if after.cities < result.target
            else []
        ),
        f"{after.cities:,} city schemas (Japan has {JAPAN_MUNICIPALITIES:,} municipalities), each created as the "
        "console does (`municipality_create`, a clone of `city_template`, a new database session each), on "
        f"PostgreSQL {s.get('server_version', '?')} (max_connections {s.get('max_connections', '?')}, "
        f"max_locks_per_transaction {s.get('max_locks_per_transaction', '?')}, shared_buffers "
        f"{s.get('shared_buffers', '?')}, autovacuum {s.get('autovacuum', '?')}). Filling took "
        f"{result.fill_seconds / 60:.1f} min; `catalog_analyze_if_stale` analyzed the catalog "
        f"{result.analyzed_during_fill} times on the way. One city: "
        + ", ".join(f"{count} {kind}" for kind, count in result.relations_per_city.items())
        + ".",
        "",
    ]
    for section in (
        "scale-fill",
        "scale-create",
        "scale-deploy",
        "scale-memory",
        "scale-worker",
        "scale-latency",
    ):
        if text := load_text(section):
            out.append(f"{section.removeprefix('scale-')}: {text}")
    out += ["", "### Disk", ""]
    rows = [
        [
            "database (pg_database_size)",
            size(before.database),
            size(after.database),
            size((after.database - before.database) / added),
        ],
        [
            "one city's schema (tables, indexes, TOAST, sequences; median)",
            "",
            size(median(city_sizes)) if city_sizes else "n/a",
            "",
        ],
        ["`city_template`", "", size(after.schemas.get("city_template", 0)), ""],
        ["`public`", size(before.schemas.get("public", 0)), size(after.schemas.get("public", 0)), ""],
    ]
    for name in CATALOG:
        rows_before, bytes_before = before.catalog[name]
        rows_after, bytes_after = after.catalog[name]
        rows.append(
            [
                f"`{name}`: rows / bytes",
                f"{rows_before:,} / {size(bytes_before)}",
                f"{rows_after:,} / {size(bytes_after)}",
                f"{(rows_after - rows_before) / added:.0f} / {size((bytes_after - bytes_before) / added)}",
            ]
        )
    out += table(["", f"{before.cities} cities", f"{after.cities:,} cities", "per city added"], rows)
    out += [
        "",
        "The catalog bytes include their indexes; dead rows from the bench's create-and-delete samples are in "
        "them (autovacuum as configured above).",
        "",
        "### Creating a city",
        "",
    ]
    c = result.creation
    out += [
        f"One more city with {after.cities:,} present, {len(c)} samples, each deleted right after: median "
        f"**{median(c):.2f} s**, max {max(c):.2f} s; target < {CREATION_TARGET_S:.0f} s: "
        f"{_met(max(c) < CREATION_TARGET_S)}."
        if c
        else "No creation sample.",
        "",
    ]
    if result.slowest_sql:
        out += [
            "The slowest statements of the slowest sample:",
            "",
            *table(
                ["s", "statement (start)"],
                [[f"{seconds:.3f}", f"`{text.replace('|', '/')}`"] for seconds, text in result.slowest_sql],
            ),
            "",
        ]
    fill_rows = [
        [
            f"{start:,}–{end:,}",
            str(len(values)),
            f"{median(values):.3f}",
            f"{percentile(values, 0.95):.3f}",
            f"{max(values):.3f}",
        ]
        for start, end, values in buckets(result.fill)
    ]
    out += [
        "Clone time while filling (cities present before each creation):",
        "",
        *table(["cities present", "clones", "median s", "p95 s", "max s"], fill_rows),
        "",
        "### No-op deploy",
        "",
    ]
    if result.deploy:
        seconds = [run[0] for run in result.deploy]
        out += [
            f"`migrate_schemas` with the project's executor (`tenants.migration.get_executor`) over {after.cities:,} "
            f"cities, every schema up to date, {len(seconds)} runs each in its own process: median "
            f"**{median(seconds):.2f} s** inside the command ({median(seconds) / after.cities * 1000:.2f} ms per "
            f"city), process {median([run[1] for run in result.deploy]):.2f} s with start-up; {result.deploy[-1][2]}; "
            f"target ≤ {DEPLOY_TARGET_S:.0f} s: {_met(max(seconds) <= DEPLOY_TARGET_S)}. The pending-migration "
            f"check alone (one query over every schema's django_migrations, what /readyz runs until it first "
            f"passes): median {median(result.pending_check):.2f} s.",
            "",
        ]
    out += ["### Database backend memory (per connection)", ""]
    mem_rows = []
    for point in result.memory:
        mem_rows.append(
            [
                f"{point.touched:,}" + (" (new session)" if point.touched == 0 else ""),
                f"{point.relations:,}",
                size(point.cache),
                size(point.contexts),
                size(point.rss_anon),
                size(point.rss),
                f"{point.seconds:.1f}",
            ]
        )
    out += table(
        [
            "cities touched",
            "tables opened",
            "catalog caches (CacheMemoryContext)",
            "all memory contexts",
            "RssAnon",
            "VmRSS",
            "s to touch",
        ],
        mem_rows,
    )
    if len(result.memory) >= 2 and result.memory[-1].touched:
        last, zero = result.memory[-1], result.memory[0]
        out += [
            "",
            f"One session opened every table of each city (`SELECT * FROM <table> LIMIT 0`: parsing and planning "
            f"open the table and its indexes, as any query does). Per city touched: "
            f"{size((last.cache - zero.cache) / last.touched)} of catalog caches, "
            f"{size((last.rss_anon - zero.rss_anon) / last.touched)} of private memory (RssAnon). PostgreSQL never "
            "shrinks these caches during a session: a pooled connection (PgBouncer, CONN_MAX_AGE) that serves every "
            "city ends up at the last row; a new session starts at the first.",
        ]
    out += ["", "### Celery worker and fan-out", ""]
    w = result.worker
    if w is not None:
        out += [
            f"`celery worker -c {w.concurrency}` (prefork), "
            + (
                "Redis as the broker (an empty database of the local Redis, as in production)"
                if w.broker == "Redis"
                else "the filesystem broker (no Redis: it polls once a second, so a few tasks/s at most)"
            )
            + f", the reminder scan `{FANOUT_TASK}` fanned out with `tenants.fanout.for_each_city` as beat "
            f"does: {w.sent:,} tasks sent in {w.send_seconds:.1f} s (beat's side), {w.done:,} done "
            f"**{w.seconds:.0f} s** after the first was sent ({w.done / w.seconds if w.seconds else 0:.0f} "
            f"tasks/s). Worker RSS (main process and its children): {size(w.rss_before)} ready, "
            f"**{size(w.rss_after)}** after the fan-out. Its database backends afterwards (RssAnon each): "
            + (", ".join(size(b) for b in w.backends) or "none open")
            + "."
            + (f" **{w.error}**." if w.error else ""),
            "",
        ]
    out += [*(f"- {error}" for error in result.errors), "", "### pg_dump", ""]
    slots = lock_slots(
        int(s.get("max_locks_per_transaction", 64)),
        int(s.get("max_connections", 100)),
        int(s.get("max_prepared_transactions", 0)),
    )
    out += table(
        ["dump", "cities", "tables locked", "s", "custom format, -Z 1", "result"],
        [
            [
                d.label,
                f"{d.cities:,}",
                f"{d.tables:,}" if d.tables else "one schema's",
                f"{d.seconds:.1f}",
                size(d.bytes) if d.ok else "",
                "ok" if d.ok else f"**failed**: `{d.error[:300]}`",
            ]
            for d in result.dumps
        ],
    )
    whole = [d for d in result.dumps if d.tables]
    if whole:
        tables = whole[-1].tables
        needed = max_locks_needed(
            tables, int(s.get("max_connections", 100)), int(s.get("max_prepared_transactions", 0))
        )
        out += [
            "",
            f"A whole-database pg_dump holds an AccessShareLock on every table in one transaction: {tables:,} "
            f"tables at {after.cities:,} cities ({result.tables_per_city} per city). The shared lock table has "
            f"max_locks_per_transaction × (max_connections + max_prepared_transactions) = {slots:,} slots here; "
            f"with max_connections {s.get('max_connections', '?')}, **max_locks_per_transaction = {needed}** "
            "fits this dump with a quarter to spare (a restart is needed to change it; docs/scale.md).",
        ]
    out += ["", "### Request latency: the first and the last city", ""]
    lat_rows = []
    for row in result.latency:
        lat_rows.append(
            [
                f"`{row.path}` ({row.label})",
                f"{median(row.first_ms):.1f} / {percentile(row.first_ms, 0.95):.1f}",
                f"{median(row.last_ms):.1f} / {percentile(row.last_ms, 0.95):.1f}",
                f"{median(row.last_ms) / median(row.first_ms):.2f}×" if row.first_ms else "n/a",
                "; ".join(
                    f"{which} " + ", ".join(f"{code}×{n}" for code, n in sorted(counts.items()))
                    for which, counts in row.statuses.items()
                ),
            ]
        )
    if result.latency:
        out += [
            f"gunicorn (2 sync workers, production settings) on 127.0.0.1, `{result.first}` (created first) and "
            f"`{result.last}` (created last) alternating, {len(result.latency[0].first_ms)} requests each after a "
            "warm-up, a new connection each. Milliseconds, client side.",
            "",
            *table(
                ["page", "first p50 / p95", "last p50 / p95", "last / first (p50)", "HTTP status"], lat_rows
            ),
        ]
    return [*out, ""]
