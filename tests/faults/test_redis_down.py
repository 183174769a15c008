"""Redis down (issue 14, item 4): residents still book, through the pages and the API, and nothing is lost.

In-process first (fast): the fail-open cache (base/cache.py) against a Redis that is not there and one that comes
back; `enqueue` (base/tasks.py) with a broker that refuses.

Then the real outage: a redis-server of our own that keeps nothing on disk (every message it holds when it dies is
lost) as cache and broker, gunicorn with DEBUG off and a Celery worker on it, the fault tests' own PostgreSQL.
Residents book through the pages (calendar, day, hold, form) and clients through the API while Redis is killed with
SIGKILL, then started again. The worker is paused just before the kill, so that some mail messages wait in Redis
and die with it. Then the booking mails' scan runs once, as beat's tick a minute later does. Expected: no 500 and no
503 (the database is up), `/readyz` 200 "degraded" while it is away and "ready" after, every page booking's
confirmation mail sent exactly once (by the worker, in the request while the broker is away, or by the scan for
the messages Redis lost: apps/booking/reservations/outbox.py), every outbox row sent, the app using Redis again
without a restart.
"""

from __future__ import annotations

import email
import http.client
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from kombu.exceptions import OperationalError as KombuOperationalError

from base import tasks as base_tasks
from base.cache import Breaker, FailOpenRedisCache
from tests.faults.conftest import Seeded
from tests.faults.load import Tally, database_findings, run_clients, stop_clients
from tests.faults.report import Report
from tests.faults.resident import Resident, ResidentTally
from tests.faults.services import RedisServer, celery_worker, wait_until
from tests.live_server import ROOT, gunicorn_server, server_env

REDIS_PORT = 18720  # this test's own (the faults2 range 18720-18769); never the shared Redis
ABSENT_PORT = 18721  # nothing listens here
RESIDENTS = 3
API_CLIENTS = 2
PROGRESS = 6  # page bookings made in each phase (before, during, after the outage)
BACKLOG = 3  # page bookings whose mail message waits in Redis (the worker paused) when it is killed


def _cache(port: int) -> FailOpenRedisCache:
    cache = FailOpenRedisCache(
        f"redis://127.0.0.1:{port}/0", {"KEY_PREFIX": f"faults-{uuid.uuid4().hex[:6]}"}
    )
    cache.breaker = Breaker("Redis cache")  # not the process's shared one: each test starts closed
    return cache


# --- in-process ---------------------------------------------------------------------------------------------------


def test_the_cache_fails_open_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    report = Report("redis-cache")
    cache = _cache(ABSENT_PORT)
    began = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="base.cache"):
        answers = [
            cache.get("k", "default"),
            cache.get_many(["a", "b"]),
            cache.add("k", 1),
            cache.delete("k"),
            cache.has_key("k"),
            cache.set_many({"a": 1}),
        ]
        cache.set("k", 1)  # no error
        cache.delete_many(["a"])
        with pytest.raises(ValueError, match="not found"):
            cache.incr("k")
        for _ in range(200):
            cache.get_many(["page"])  # a burst of resident pages: the breaker skips Redis
    seconds = time.monotonic() - began
    lines = [record.getMessage() for record in caplog.records]
    report(f"Redis absent: {answers}; 209 calls in {seconds:.2f} s; log lines {len(lines)}: {lines[:1]}")
    assert answers == ["default", {}, False, False, False, ["a"]]
    assert seconds < 2, "the breaker should skip Redis instead of waiting for it on each call"
    assert len(lines) == 1
    assert "Redis cache unavailable" in lines[0]


def test_the_cache_uses_redis_again_once_it_is_back(tmp_path: Path) -> None:
    report = Report("redis-cache")
    redis = RedisServer(tmp_path / "redis", port=REDIS_PORT)
    cache = _cache(REDIS_PORT)
    cache.breaker = Breaker("Redis cache", seconds=0.3)
    redis.start()
    try:
        cache.set("k", "before")
        assert cache.get("k") == "before"
        redis.kill()
        assert cache.get("k", "miss") == "miss"
        assert cache.breaker.is_open()
        redis.start()  # without persistence: empty

        def written_and_read() -> bool:
            cache.set("k", "after")
            return bool(cache.get("k") == "after")

        wait_until(written_and_read, timeout=10, what="the cache using Redis again")
        report("killed: a miss; started again: the same cache object reads and writes Redis again")
    finally:
        redis.stop()


class _RefusingTask:
    name = "faults.refusing"

    def __init__(self) -> None:
        self.calls = 0

    def delay(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1
        raise KombuOperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def _appender(into: list[int], value: int) -> Callable[[], None]:
    return lambda: into.append(value)


def test_enqueue_runs_the_fallback_when_the_broker_refuses(caplog: pytest.LogCaptureFixture) -> None:
    task, ran = _RefusingTask(), list[int]()
    with (
        mock.patch.object(base_tasks, "BROKER", Breaker("Celery broker")),
        caplog.at_level(logging.WARNING, logger="base.cache"),
    ):
        results = [base_tasks.enqueue(task, n, fallback=_appender(ran, n)) for n in range(5)]
    Report("enqueue")(f"5 sends, broker refusing: {results}; tried {task.calls}x; fallbacks ran {ran}")
    assert results == [False] * 5
    assert ran == [0, 1, 2, 3, 4]
    assert task.calls == 1, "the breaker should skip the broker after the first refusal"
    assert len([r for r in caplog.records if "Celery broker unavailable" in r.getMessage()]) == 1


def test_a_failing_fallback_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> None:
        raise OSError("smtp down too")

    with mock.patch.object(base_tasks, "BROKER", Breaker("Celery broker")):
        assert base_tasks.enqueue(_RefusingTask(), fallback=boom) is False
    assert any("fallback of faults.refusing failed" in r.getMessage() for r in caplog.records)


# --- the real outage ----------------------------------------------------------------------------------------------


def _confirmations(outbox: Path, run: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    if not outbox.exists():
        return counts
    for path in outbox.iterdir():
        for chunk in path.read_bytes().split(b"-" * 79):
            to = email.message_from_bytes(chunk.strip()).get("To", "")
            if to.startswith(f"{run}-"):
                counts[to] += 1
    return counts


def _redis_cli(port: int, *command: str) -> str:
    done = subprocess.run(
        ["redis-cli", "-p", str(port), *command], capture_output=True, text=True, timeout=10, check=False
    )
    return done.stdout.strip() or done.stderr.strip()


def _scan_a_minute_later(env: dict[str, str], schema: str) -> dict[str, int]:
    """What beat's booking-mail tick does in the city a minute from now (the scan leaves rows younger than
    UNCLAIMED_AFTER to the worker): sends the rows whose message Redis lost."""
    code = (
        "import json, django; django.setup()\n"
        "from django.utils import timezone\n"
        "from django_tenants.utils import schema_context\n"
        "from apps.booking.reservations import outbox\n"
        f"with schema_context({schema!r}):\n"
        "    print(json.dumps(outbox.booking_mails_send_due(now=timezone.now() + outbox.UNCLAIMED_AFTER)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _outbox_rows(seeded: Seeded, run: str) -> dict[str, int]:
    """This run's booking-mail rows: all, sent, and bookings with other than one confirmation row."""
    q = f'"{seeded.schema}"'
    row = seeded.cluster.psql(
        "SELECT count(*), count(*) FILTER (WHERE m.sent_at IS NOT NULL), "
        "count(DISTINCT m.reservation_id) "
        f"FROM {q}.booking_bookingmail m JOIN {q}.booking_reservation r ON r.id = m.reservation_id "
        f"WHERE r.email LIKE '{run}-%' AND m.kind = 'booked'"
    )
    rows, sent, bookings = (int(value) for value in row.split("|"))
    return {"rows": rows, "sent": sent, "bookings": bookings}


def _readyz(port: int) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/readyz")
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.slow
def test_redis_killed_under_booking_load(seeded_cluster: Seeded, faults_root: Path) -> None:
    report = Report("redis-down")
    work = faults_root / f"redis-down-{uuid.uuid4().hex[:6]}"
    redis = RedisServer(work / "redis", port=REDIS_PORT)  # no persistence: what it holds dies with it
    outbox = work / "mail"
    env = {
        "DATABASE_URL": seeded_cluster.cluster.url(),
        "DJANGO_DEBUG": "false",
        "DATABASE_CONN_MAX_AGE": "60",
        "REDIS_URL": redis.url,
        "MADOGUCHI_CELERY_QUEUE": f"faults-{work.name}",
        "MADOGUCHI_BOOKING_MAIL_SYNC": "false",  # the mail goes through the broker, as in production
        "EMAIL_BACKEND": "file",
        "EMAIL_FILE_PATH": str(outbox),
        "EMAIL_URL": "",
    }
    worker_env = {**server_env(), **env}
    worker_env["PYTHONPATH"] = f"{ROOT / 'platform'}:{ROOT}"
    residents = ResidentTally(run=f"rd{uuid.uuid4().hex[:6]}")
    tally = Tally()
    before_run = int(
        seeded_cluster.cluster.psql(f'SELECT count(*) FROM "{seeded_cluster.schema}".booking_reservation')
    )
    redis.start()
    try:
        with (
            celery_worker(worker_env, work / "worker.log", concurrency=1) as worker,
            gunicorn_server(workers=2, threads=4, env=env) as port,
        ):
            assert _readyz(port)[1]["status"] == "ready"
            threads, stop = run_clients(
                port=port,
                host=seeded_cluster.host,
                token=seeded_cluster.token,
                slots=seeded_cluster.slots,
                clients=API_CLIENTS,
                tally=tally,
            )
            people = [
                Resident(index=i, port=port, host=seeded_cluster.host, tally=residents, stop=stop)
                for i in range(RESIDENTS)
            ]
            for person in people:
                person.start()
            report(
                f"gunicorn :{port}, redis-server :{REDIS_PORT} (nothing on disk), a worker; {RESIDENTS} residents, "
                f"{API_CLIENTS} API clients"
            )
            try:
                wait_until(lambda: residents.count() >= PROGRESS, timeout=90, what="page bookings before")
                # A busy worker: the next bookings' mail messages wait in Redis, and die with it.
                os.killpg(worker.pid, signal.SIGSTOP)
                paused_at = residents.count()
                wait_until(
                    lambda: residents.count() >= paused_at + BACKLOG, timeout=60, what="mails queued in Redis"
                )
                at = residents.count()
                redis.kill()
                killed_at = time.monotonic()
                os.killpg(worker.pid, signal.SIGCONT)
                report(
                    f"redis-server killed (SIGKILL) at {at} page bookings; {residents.summary()}; {tally.summary()}"
                )
                wait_until(
                    lambda: residents.count() >= at + PROGRESS, timeout=90, what="page bookings, Redis down"
                )
                during = _readyz(port)
                report(
                    f"Redis down: {residents.count() - at} page bookings since; /readyz {during[0]} "
                    f"{during[1]['status']} broker {during[1]['checks']['broker']}"
                )
                down_at = residents.count()
                redis.start()
                started_at = time.monotonic()
                report(f"redis-server started again at {down_at} page bookings")
                wait_until(lambda: residents.count() >= down_at + PROGRESS, timeout=90, what="bookings after")
                wait_until(
                    lambda: _readyz(port)[1]["status"] == "ready", timeout=30, what="/readyz ready again"
                )
                report(f"after: {residents.summary()}; {tally.summary()}; /readyz ready again")
            finally:
                stop_clients(threads + people, stop)  # type: ignore[arg-type]
            # Before the scan: what the worker and the requests sent (the messages Redis lost are missing).
            with suppress(TimeoutError):
                wait_until(
                    lambda: set(_confirmations(outbox, residents.run)) >= set(residents.booked),
                    timeout=10,
                    what="every confirmation mail sent without the scan",
                )
            before_scan = set(residents.booked) - set(_confirmations(outbox, residents.run))
            scanned = _scan_a_minute_later(worker_env, seeded_cluster.schema)
            report(
                f"booking mails' scan (beat's tick a minute later): {scanned}; confirmations missing before it: "
                f"{len(before_scan)}"
            )
            # A bound, not a failure: a mail still missing after it is reported below.
            with suppress(TimeoutError):
                wait_until(
                    lambda: set(_confirmations(outbox, residents.run)) >= set(residents.booked),
                    timeout=30,
                    what="every confirmation mail sent",
                )
            unacked = _redis_cli(REDIS_PORT, "HLEN", "unacked")  # delivered, not acknowledged
    finally:
        redis.kill()
    mails = _confirmations(outbox, residents.run)
    doubled = {a: n for a, n in mails.items() if n > 1}
    missing = sorted(set(residents.booked) - set(mails))

    def when(address: str) -> str:
        at = residents.booked_at[address]
        if at < killed_at:
            return f"booked {killed_at - at:.2f} s before the kill"
        if at < started_at:
            return f"booked {at - killed_at:.2f} s after the kill, Redis down"
        return f"booked {at - started_at:.2f} s after the restart"

    findings, sql = database_findings(
        seeded_cluster.cluster, seeded_cluster.schema, tally, already=before_run
    )
    report(
        f"confirmation mails: {sum(mails.values())} for {len(residents.booked)} page bookings; "
        f"doubled {doubled or 'none'}; missing {missing or 'none'}"
    )
    for address in sorted(before_scan):
        report(f"sent by the scan: {address}, {when(address)}")
    for address in missing:
        report(f"MAIL LOST: {address}, {when(address)}")
    rows = _outbox_rows(seeded_cluster, residents.run)
    report(f"outbox rows of the page bookings: {rows}")
    report(sql)
    report(f"messages delivered but not acknowledged left in Redis: {unacked}")
    in_sql = int(
        seeded_cluster.cluster.psql(
            f'SELECT count(*) FROM "{seeded_cluster.schema}".booking_reservation WHERE email LIKE '
            f"'{residents.run}-%'"
        )
    )
    report(f"page bookings in SQL: {in_sql} for {len(residents.booked)} confirmations shown")
    for finding in residents.findings + tally.findings + findings:
        report(f"FINDING: {finding}")
    assert not residents.findings, str(report)
    assert not tally.findings, str(report)
    assert not findings, str(report)
    assert set(residents.statuses) <= {200, 302}, str(report)
    assert set(tally.api) <= {201, 409}, str(report)
    assert in_sql == len(residents.booked), str(report)
    # Exactly once for every page booking, before, during and after the outage (the outbox).
    assert not doubled, str(report)
    assert not missing, str(report)
    assert rows == {"rows": in_sql, "sent": in_sql, "bookings": in_sql}, str(report)
    # The messages Redis held when it died were lost, and the scan sent their mails (at most one of them reached
    # the paused worker's socket before the kill and was sent by it).
    assert len(before_scan) >= BACKLOG - 1, str(report)
    assert scanned["sent"] == len(before_scan), str(report)
    assert during[0] == 200, str(report)
    assert (during[1]["status"], during[1]["checks"]["broker"]["ok"]) == ("degraded", False), str(report)
