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
the end. Slow (tens of minutes on 2 cores): never part of `make bench` without PART, nor of `make test`.

This module runs the steps in order; they live in bench/scale_results.py (constants, the pure arithmetic: memory
contexts, /proc, lock slots, buckets, the log count; the result records), bench/scale_db.py (the steps on the
database), bench/scale_worker.py (the Celery fan-out) and bench/scale_section.py (the section's text). The
arithmetic and the text are tested in tests/bench/test_scale.py, through the names re-exported here.
"""

from __future__ import annotations

import argparse
import signal
from typing import Any

from bench.common import Sandbox, log
from bench.scale_db import (
    backend_memory,
    city_schemas,
    creation,
    creation_from_spare,
    deploy,
    dump_one_batch,
    dump_whole,
    dumps_per_city,
    fill,
    latency,
    measure_disk,
    pending_check,
    raw_connection,
    relations_of,
    server_settings,
)
from bench.scale_results import (
    CATALOG,
    CREATION_TARGET_S,
    DEPLOY_TARGET_S,
    HEADING,
    JAPAN_MUNICIPALITIES,
    SCALE_DATABASE,
    Disk,
    Dump,
    Latency,
    Memory,
    ScaleResult,
    Worker,
    buckets,
    context_totals,
    lock_slots,
    max_locks_needed,
    parse_proc_status,
    size,
    tasks_succeeded,
)
from bench.scale_section import scale_section
from bench.scale_worker import redis_broker, worker_fanout

__all__ = [
    "CATALOG",
    "CREATION_TARGET_S",
    "DEPLOY_TARGET_S",
    "HEADING",
    "JAPAN_MUNICIPALITIES",
    "SCALE_DATABASE",
    "Disk",
    "Dump",
    "Latency",
    "Memory",
    "ScaleResult",
    "Worker",
    "bench_scale",
    "buckets",
    "context_totals",
    "lock_slots",
    "max_locks_needed",
    "parse_proc_status",
    "scale_section",
    "size",
    "tasks_succeeded",
]


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
    log(f"creating one more city from a spare of the pool ({args.scale_samples} samples)", "scale-create")
    result.creation_spare, result.refill = creation_from_spare(cities, args.scale_samples)
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
    result.batch = dump_one_batch(box)
    result.latency = latency(box, result.first, result.last, args.scale_requests, args.scale_warmup)
    return result
