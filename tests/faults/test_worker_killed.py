"""kill -9 of the Celery worker while the day-before reminders are due (issue 14, item 4), with either broker.

The design (apps/booking/reminders/services.py) is at most once: a reminder's claim row is written before its mail
is sent, and a claim whose worker died mid-send is never sent again but listed for staff (`reminders_unknown`).
So after a worker is killed with SIGKILL part-way through COUNT due reminders, a new worker and the periodic scan
must send every other reminder exactly once: none lost silently, none doubled, at most the killed worker's
in-flight ones (its concurrency) unknown.

On the fault tests' own PostgreSQL (the seeded cluster, never the shared server) and a real worker process
(prefork, CONCURRENCY children, its whole process group killed as the OOM killer or `systemctl kill -s KILL`
does), the file mail backend into a directory of the test's own. Brokers: Redis db 12 of the shared Redis at
6379 (only this test's queue; the db is flushed before and after), and the filesystem transport (no REDIS_URL).
"""

from __future__ import annotations

import email
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from tests.faults.conftest import Seeded
from tests.faults.report import Report
from tests.faults.services import celery_worker, group_alive, port_open, wait_until
from tests.live_server import ROOT

pytestmark = pytest.mark.slow

COUNT = 40  # reminders due
CONCURRENCY = 2  # the worker's children: at most this many reminders in flight when it is killed
SHARED_REDIS = "redis://127.0.0.1:6379/12"  # db 12 only: the shared Redis's other dbs belong to others


def _env(seeded: Seeded, broker: str, work: Path, queue: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}",
        "DJANGO_SETTINGS_MODULE": "madoguchi.settings",
        "DATABASE_URL": seeded.cluster.url(),
        "MADOGUCHI_DATA_DIR": str(work / "data"),  # the filesystem broker's folders are under it
        "MADOGUCHI_CELERY_QUEUE": queue,
        "MADOGUCHI_BOOKING_MAIL_SYNC": "false",
        "EMAIL_BACKEND": "file",
        "EMAIL_FILE_PATH": str(work / "mail"),
        "EMAIL_URL": "",
        "DJANGO_DEBUG": "false",
        "REDIS_URL": SHARED_REDIS if broker == "redis" else "",
    }
    return env


def _python(env: dict[str, str], code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


SETUP = (
    "import django; django.setup(); from madoguchi.celery import ensure_broker_dirs; ensure_broker_dirs(); "
)


def _beat_tick(env: dict[str, str]) -> None:
    """What beat sends every 10 minutes: the fan-out, which sends one scan per city."""
    _python(
        env,
        SETUP + "from apps.booking.reminders.tasks import send_reminders_everywhere as t; t.delay()",
    )


def _mails(outbox: Path, tag: str) -> Counter[str]:
    """Reminder mails per recipient of this run, from the file backend's files."""
    counts: Counter[str] = Counter()
    if not outbox.exists():
        return counts
    for path in outbox.iterdir():
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            continue
        # One file per connection; a file holds its messages separated by a line of 79 dashes.
        for chunk in raw.split(b"-" * 79):
            message = email.message_from_bytes(chunk.strip())
            to = message.get("To", "")
            if to.startswith(f"{tag}-"):
                counts[to] += 1
    return counts


def _claims(seeded: Seeded, tag: str) -> dict[str, int]:
    """The claim rows of this run: sent, failed (retryable), unknown (claimed, neither sent nor failed)."""
    q = f'"{seeded.schema}"'
    row = seeded.cluster.psql(
        "SELECT count(*) FILTER (WHERE m.sent_at IS NOT NULL), "
        "count(*) FILTER (WHERE m.sent_at IS NULL AND m.last_error <> ''), "
        "count(*) FILTER (WHERE m.sent_at IS NULL AND m.last_error = '') "
        f"FROM {q}.booking_remindersent m JOIN {q}.booking_reservation r ON r.id = m.reservation_id "
        f"WHERE r.email LIKE '{tag}-%'"
    )
    sent, failed, unknown = (int(value) for value in row.split("|"))
    return {"sent": sent, "failed": failed, "unknown": unknown}


def _unknown_emails(seeded: Seeded, tag: str) -> set[str]:
    q = f'"{seeded.schema}"'
    rows = seeded.cluster.psql(
        f"SELECT r.email FROM {q}.booking_remindersent m JOIN {q}.booking_reservation r ON r.id = m.reservation_id "
        f"WHERE r.email LIKE '{tag}-%' AND m.sent_at IS NULL AND m.last_error = ''"
    )
    return {line for line in rows.splitlines() if line}


@pytest.mark.parametrize("broker", ["redis", "filesystem"])
def test_worker_killed_mid_reminders(seeded_cluster: Seeded, faults_root: Path, broker: str) -> None:
    if broker == "redis" and not port_open(6379):
        pytest.skip("no Redis at 127.0.0.1:6379 (the shared one): the Redis broker cannot be tested")
    report = Report(f"worker-killed-{broker}")
    tag = f"{broker[:2]}{uuid.uuid4().hex[:6]}"
    work = faults_root / f"worker-{tag}"
    work.mkdir()
    queue = f"faults-{tag}"
    env = _env(seeded_cluster, broker, work, queue)
    outbox = work / "mail"
    if broker == "redis":
        subprocess.run(["redis-cli", "-n", "12", "FLUSHDB"], check=False, capture_output=True, timeout=10)

    seeded = subprocess.run(
        [sys.executable, "-m", "tests.faults.seed_reminders", tag, str(COUNT)],
        cwd=ROOT,
        env={**env, "REDIS_URL": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    report(f"{COUNT} reminders due tomorrow ({tag}-*), broker {broker}, worker prefork -c {CONCURRENCY}")

    with celery_worker(env, work / "worker.log", concurrency=CONCURRENCY) as first:
        _beat_tick(env)
        wait_until(lambda: len(_mails(outbox, tag)) >= 3, timeout=90, what="the first reminders sent")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        wait_until(lambda: not group_alive(first.pid), timeout=15, what="the killed worker's children gone")
    at_kill = _mails(outbox, tag)
    claims_at_kill = _claims(seeded_cluster, tag)
    unknown = _unknown_emails(seeded_cluster, tag)
    report(
        f"kill -9 of the worker's process group after {sum(at_kill.values())} mails; claims {claims_at_kill}, "
        f"unknown: {sorted(unknown)}"
    )
    assert 0 < claims_at_kill["sent"] < COUNT, f"the kill did not land mid-run: {claims_at_kill}" + str(
        report
    )

    with celery_worker(env, work / "worker.log", concurrency=CONCURRENCY):
        began = time.monotonic()
        _beat_tick(env)  # the next periodic scan
        wait_until(
            lambda: _claims(seeded_cluster, tag)["sent"] + len(unknown) >= COUNT,
            timeout=90,
            what="the new worker's scan catching up",
        )
        report(
            f"new worker + the periodic scan: {_claims(seeded_cluster, tag)} in {time.monotonic() - began:.1f} s"
        )
    # The next scan sends nothing more: run here, synchronously, as the worker's task runs it.
    rescan = json.loads(
        _python(
            {**env, "REDIS_URL": ""},
            "import django, json; django.setup(); from datetime import timedelta; "
            "from django.utils import timezone; from django_tenants.utils import schema_context; "
            "from apps.booking.reminders.services import reminders_send_due, reminders_unknown; "
            f"ctx = schema_context({seeded_cluster.schema!r}); ctx.__enter__(); "
            "result = reminders_send_due(now=timezone.now()); "
            "later = reminders_unknown(now=timezone.now() + timedelta(minutes=31)); "
            "print(json.dumps({'rescan': result, 'unknown': [m.reservation.email for m in later]}))",
        )
    )
    final = _mails(outbox, tag)
    claims = _claims(seeded_cluster, tag)
    listed = {address for address in rescan["unknown"] if address.startswith(f"{tag}-")}
    doubled = {address: n for address, n in final.items() if n > 1}
    missing = {f"{tag}-{n}@reminders.example" for n in range(COUNT)} - set(final) - unknown
    report(
        f"after: {sum(final.values())} mails to {len(final)} of {COUNT} recipients; claims {claims}; a further scan "
        f"{rescan['rescan']}; doubled {doubled or 'none'}; lost {sorted(missing) or 'none'}"
    )
    report(
        f"unknown for staff (reminders_unknown 31 min later): {sorted(listed)}; of them mailed before the kill: "
        f"{sorted(a for a in listed if final.get(a))}"
    )
    assert not doubled, str(report)
    assert not missing, str(report)
    assert len(unknown) <= CONCURRENCY, str(report)
    assert listed == unknown, str(report)
    assert claims["sent"] + claims["unknown"] == COUNT, str(report)
    assert claims["failed"] == 0, str(report)
    assert rescan["rescan"] == {"sent": 0, "failed": 0}, str(report)
    if broker == "redis":
        subprocess.run(["redis-cli", "-n", "12", "FLUSHDB"], check=False, capture_output=True, timeout=10)
