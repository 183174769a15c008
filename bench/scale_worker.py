"""Section 7's Celery worker and fan-out (bench/scale.py): a real worker, the reminder scan sent to every city."""

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import (
    PYTHON,
    ROOT,
    Sandbox,
    log,
)
from bench.scale_db import city_schemas, fetch, proc_memory, raw_connection
from bench.scale_results import FANOUT_TASK, Worker, tasks_succeeded


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
