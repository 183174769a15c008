"""Section 7's steps on the database (bench/scale.py): the catalog and disk, the fill, creating a city, the no-op
deploy, a backend's memory, pg_dump and request latency."""

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.common import (
    CITY_HOST_SUFFIX,
    Sandbox,
    gunicorn_start,
    gunicorn_stop,
    http_get,
    log,
)
from bench.scale_results import (
    CATALOG,
    LATENCY_PATHS,
    MEMORY_POINTS,
    BatchDump,
    Disk,
    Dump,
    Latency,
    Memory,
    ScaleResult,
    context_totals,
    parse_proc_status,
)

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


@contextlib.contextmanager
def no_refill_task() -> Iterator[None]:
    """Creations from the pool send no refill task (the worker step would run it later): the bench refills itself."""
    from tenants import services

    saved = services._pool_refill_later
    services._pool_refill_later = lambda: None
    try:
        yield
    finally:
        services._pool_refill_later = saved


def creation_from_spare(cities: Any, samples: int) -> tuple[list[float], list[float]]:
    """Create one more city from a spare of the warm pool `samples` times with the target present: before each, one
    spare is cloned (the background refill, timed apart); each city is deleted right after. Returns the creation
    times and the refill times; the pool is emptied at the end."""
    from django.test import override_settings

    from tenants.pool_models import SpareSchema
    from tenants.services import pool_refill

    times: list[float] = []
    refills: list[float] = []
    with no_refill_task(), override_settings(TENANT_POOL_SIZE=1):
        for _ in range(samples):
            started = time.perf_counter()
            pool_refill(size=1)
            refills.append(time.perf_counter() - started)
            slug, elapsed = cities.create("clone")
            if SpareSchema.objects.exists():
                raise RuntimeError("a creation with a current spare in the pool did not take it")
            times.append(elapsed)
            cities.delete(slug)
        pool_refill(size=0)
    return times, refills


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
    from madoguchi import backups

    try:  # the binary of the server's major version, as the backups pick it (an older pg_dump refuses the server)
        server = backups.Server.from_settings()
        pg_dump = str(backups.pg_binary("pg_dump", backups.server_version_num(server) // 10000))
    except backups.BackupError as exc:
        return Dump(label, cities, tables, 0.0, False, 0, str(exc)[:300])
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


def dump_one_batch(box: Sandbox) -> BatchDump:
    """The nightly run's unit, timed: the first batch `madoguchi.backups` plans for every active city (its batch
    size, capped by the lock table), dumped by its own `dump_batch` with the per-city manifests."""
    from madoguchi import backups

    server = backups.Server.from_settings()
    targets = [backups.Target(m.slug, m.schema_name) for m in backups.cities()]
    plan = backups.plan_batches(server, targets, backups.default_batch_size())
    log(f"one nightly dump batch of {len(plan[0])} cities ({len(plan)} batches in all)", "scale-dump")
    run_dir = box.data_dir / "batch-dump"
    started = time.perf_counter()
    try:
        done = backups.dump_batch(server, plan[0], run_dir=run_dir, name="batch-0001")
    except backups.BackupError as exc:
        return BatchDump(len(plan[0]), len(plan), time.perf_counter() - started, 0, str(exc)[:300])
    seconds = time.perf_counter() - started
    written = sum(path.stat().st_size for path in run_dir.iterdir())
    shutil.rmtree(run_dir, ignore_errors=True)
    return BatchDump(len(done), len(plan), seconds, written)


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
