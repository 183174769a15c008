"""PgBouncer restarted during a light booking load (issue 14, item 4): our own PgBouncer in session mode (as in
production) before our own PostgreSQL; gunicorn connects through it.

Three clients book through the API (Idempotency-Key) and read a resident page while PgBouncer is stopped and started
again (every client connection cut, as `systemctl restart pgbouncer` does). Same expectations as the PostgreSQL
restart: 503 with Retry-After while it is away, no 500, recovery by itself, every booking whole.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.conftest import Seeded, app_server
from tests.faults.load import Tally, database_findings, run_clients, stop_clients
from tests.faults.report import Report
from tests.faults.services import Pgbouncer, wait_until

pytestmark = pytest.mark.slow

CLIENTS = 3
PROGRESS = 10


def test_pgbouncer_restart_under_booking_load(seeded_cluster: Seeded, faults_root: Path) -> None:
    report = Report("pgbouncer-restart")
    cluster = seeded_cluster.cluster
    bouncer = Pgbouncer(faults_root / "pgbouncer", cluster)
    bouncer.start()
    tally = Tally()
    before_run = int(cluster.psql(f'SELECT count(*) FROM "{seeded_cluster.schema}".booking_reservation'))
    try:
        with app_server(cluster.url(host_port=bouncer.port)) as port:
            report(
                f"gunicorn on :{port} -> pgbouncer :{bouncer.port} (session mode) -> PostgreSQL :{cluster.port}"
            )
            threads, stop = run_clients(
                port=port,
                host=seeded_cluster.host,
                token=seeded_cluster.token,
                slots=seeded_cluster.slots,
                clients=CLIENTS,
                tally=tally,
            )
            try:
                wait_until(tally.at_least(PROGRESS), timeout=60, what="bookings before the fault")
                at = tally.count()
                seconds = bouncer.restart()
                report(f"pgbouncer stopped and started at {at} bookings: {seconds:.1f} s; {tally.summary()}")
                wait_until(tally.at_least(at + PROGRESS + CLIENTS), timeout=60, what="recovery")
                report(f"recovered by itself: {tally.summary()}")
            finally:
                stop_clients(threads, stop)
    finally:
        bouncer.stop()
    findings, sql = database_findings(cluster, seeded_cluster.schema, tally, already=before_run)
    report(f"done: {tally.summary()}")
    report(sql)
    for finding in tally.findings + findings:
        report(f"FINDING: {finding}")
    assert not tally.findings, str(report)
    assert not findings, str(report)
    assert set(tally.api) <= {201, 409, 503}, str(report)
    assert set(tally.pages) <= {200, 503}, str(report)
