"""PostgreSQL restarted during a booking load (issue 14, item 4): a cluster of our own, never the shared server.

Six clients book through the API (Idempotency-Key) and read a resident page while the cluster is restarted twice:
`pg_ctl restart -m fast` (sessions ended cleanly), then `-m immediate` (the server killed, crash recovery). Each
restart waits for the load to make progress again afterwards, with gunicorn never restarted. Expected: no 500 and
no dropped connection, only 503 with Retry-After while the database is away; every key one booking; every booking
whole in SQL.
"""

from __future__ import annotations

import pytest

from tests.faults.conftest import Seeded, app_server
from tests.faults.load import Tally, database_findings, run_clients, stop_clients
from tests.faults.report import Report
from tests.faults.services import wait_until

pytestmark = pytest.mark.slow

CLIENTS = 6
PROGRESS = 15  # bookings made between two faults: the app has recovered by itself


def test_postgres_restarts_under_booking_load(seeded_cluster: Seeded) -> None:
    report = Report("pg-restart")
    cluster = seeded_cluster.cluster
    tally = Tally()
    before_run = int(cluster.psql(f'SELECT count(*) FROM "{seeded_cluster.schema}".booking_reservation'))
    with app_server(cluster.url()) as port:
        report(f"gunicorn on :{port}, PostgreSQL on :{cluster.port}, {CLIENTS} clients booking")
        threads, stop = run_clients(
            port=port,
            host=seeded_cluster.host,
            token=seeded_cluster.token,
            slots=seeded_cluster.slots,
            clients=CLIENTS,
            tally=tally,
        )
        try:
            for mode in ("fast", "immediate"):
                before = tally.count()
                wait_until(
                    tally.at_least(before + PROGRESS),
                    timeout=60,
                    what="bookings before the fault",
                )
                at = tally.count()
                seconds = cluster.restart(mode)
                report(f"pg_ctl restart -m {mode} at {at} bookings: {seconds:.1f} s; {tally.summary()}")
                wait_until(
                    tally.at_least(at + PROGRESS + CLIENTS),
                    timeout=60,
                    what=f"recovery after -m {mode}",
                )
                report(f"recovered by itself: {tally.count()} bookings; {tally.summary()}")
        finally:
            stop_clients(threads, stop)
    findings, sql = database_findings(cluster, seeded_cluster.schema, tally, already=before_run)
    report(f"done: {tally.summary()}")
    report(sql)
    for finding in tally.findings + findings:
        report(f"FINDING: {finding}")
    assert not tally.findings, str(report)
    assert not findings, str(report)
    assert set(tally.api) <= {201, 409, 503}, str(report)
    assert set(tally.pages) <= {200, 503}, str(report)
