"""PgBouncer restarted during a light booking load (issue 14, item 4): our own PgBouncer in session mode (as in
production) before our own PostgreSQL; gunicorn connects through it.

Three clients book through the API (Idempotency-Key) and read a resident page while PgBouncer is stopped and started
again (every client connection cut, as `systemctl restart pgbouncer` does). Same expectations as the PostgreSQL
restart (tests/faults/restart.py): 503 with Retry-After while it is away, no 500, recovery by itself, every booking
whole.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.conftest import Seeded
from tests.faults.report import Report
from tests.faults.restart import booking_load, restart_under_load
from tests.faults.services import Pgbouncer

pytestmark = pytest.mark.slow

CLIENTS = 3
PROGRESS = 10


def test_pgbouncer_restart_under_booking_load(seeded_cluster: Seeded, faults_root: Path) -> None:
    report = Report("pgbouncer-restart")
    cluster = seeded_cluster.cluster
    bouncer = Pgbouncer(faults_root / "pgbouncer", cluster)
    bouncer.start()
    started = (
        f"gunicorn on :{{port}} -> pgbouncer :{bouncer.port} (session mode) -> PostgreSQL :{cluster.port}"
    )
    try:
        with booking_load(
            seeded_cluster, cluster.url(host_port=bouncer.port), CLIENTS, report, started
        ) as tally:
            restart_under_load(
                tally,
                report,
                bouncer.restart,
                "pgbouncer stopped and started",
                progress=PROGRESS,
                clients=CLIENTS,
            )
    finally:
        bouncer.stop()
