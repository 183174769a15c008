"""PostgreSQL restarted during a booking load (issue 14, item 4): a cluster of our own, never the shared server.

Six clients book through the API (Idempotency-Key) and read a resident page while the cluster is restarted twice:
`pg_ctl restart -m fast` (sessions ended cleanly), then `-m immediate` (the server killed, crash recovery). Each
restart waits for the load to make progress again afterwards, with gunicorn never restarted. Expected: no 500 and
no dropped connection, only 503 with Retry-After while the database is away; every key one booking; every booking
whole in SQL (tests/faults/restart.py).
"""

from __future__ import annotations

from functools import partial

import pytest

from tests.faults.conftest import Seeded
from tests.faults.report import Report
from tests.faults.restart import booking_load, restart_under_load

pytestmark = pytest.mark.slow

CLIENTS = 6
PROGRESS = 15  # bookings made between two faults: the app has recovered by itself


def test_postgres_restarts_under_booking_load(seeded_cluster: Seeded) -> None:
    report = Report("pg-restart")
    cluster = seeded_cluster.cluster
    started = f"gunicorn on :{{port}}, PostgreSQL on :{cluster.port}, {CLIENTS} clients booking"
    with booking_load(seeded_cluster, cluster.url(), CLIENTS, report, started) as tally:
        for mode in ("fast", "immediate"):
            restart_under_load(
                tally,
                report,
                partial(cluster.restart, mode),
                f"pg_ctl restart -m {mode}",
                progress=PROGRESS,
                clients=CLIENTS,
            )
