"""What the restart fault tests share (test_postgres_restart.py, test_pgbouncer_restart.py): a light booking load
through gunicorn while a server is restarted under it, and the same expectations after: 503 with Retry-After while
it is away, no 500, recovery by itself, every booking whole in SQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tests.faults.conftest import Seeded, app_server
from tests.faults.load import Tally, database_findings, run_clients, stop_clients
from tests.faults.report import Report
from tests.faults.services import wait_until

RECOVERY_TIMEOUT = 60  # seconds: for the load to make progress, before a fault and after it


@contextmanager
def booking_load(
    seeded: Seeded, database_url: str, clients: int, report: Report, started: str
) -> Iterator[Tally]:
    """gunicorn on `database_url` (`started`, with {port}, reported once it answers) and `clients` clients booking
    through the API and reading a resident page; after them, the checks (asserted) on what they booked."""
    tally = Tally()
    before = int(seeded.cluster.psql(f'SELECT count(*) FROM "{seeded.schema}".booking_reservation'))
    with app_server(database_url) as port:
        report(started.format(port=port))
        threads, stop = run_clients(
            port=port, host=seeded.host, token=seeded.token, slots=seeded.slots, clients=clients, tally=tally
        )
        try:
            yield tally
        finally:
            stop_clients(threads, stop)
    findings, sql = database_findings(seeded.cluster, seeded.schema, tally, already=before)
    report(f"done: {tally.summary()}")
    report(sql)
    for finding in tally.findings + findings:
        report(f"FINDING: {finding}")
    assert not tally.findings, str(report)
    assert not findings, str(report)
    assert set(tally.api) <= {201, 409, 503}, str(report)
    assert set(tally.pages) <= {200, 503}, str(report)


def restart_under_load(
    tally: Tally, report: Report, restart: Callable[[], float], what: str, *, progress: int, clients: int
) -> None:
    """`progress` bookings, then `restart` (it returns how long the server was away), then `progress` more
    bookings (and one in flight per client) made by the clients alone: the app recovered by itself."""
    wait_until(
        tally.at_least(tally.count() + progress), timeout=RECOVERY_TIMEOUT, what="bookings before the fault"
    )
    at = tally.count()
    seconds = restart()
    report(f"{what} at {at} bookings: {seconds:.1f} s; {tally.summary()}")
    wait_until(
        tally.at_least(at + progress + clients), timeout=RECOVERY_TIMEOUT, what=f"recovery after {what}"
    )
    report(f"recovered by itself: {tally.count()} bookings; {tally.summary()}")
