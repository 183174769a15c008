"""Issue 12, item 4: the write path on contested slots, in the `http` part (bench/wrk_pages.py).

A day of 15 slots × 4 seats and `--contested-clients` (200) residents through wrk (bench/wrk/contested.lua, one
connection per wrk thread): day page → hold → hold form → confirmation, a new resident after each booking, another
free time after a "just taken" (409). wrk is stopped (SIGINT: it still prints its summary and the script's counts)
once the day is sold out (every seat booked, or every seat taken and nothing booked for 5 s), at most
`--contested-limit` seconds. `--contested-runs` (10) runs, each on a fresh day, each followed by the overbooking
count in SQL: taken ≤ seats, taken = seats of booked reservations + seats of live holds, booked seats ≤ seats, no
slot over. Holds and confirmations per second are compared with the lock-and-update baselines (one row; one row and
one audit row) through the same wrk settings on the same server in the same run, and the generator's ceiling at
those settings (the bare app) is stated.
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import suppress
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import Any

from bench.common import http_get, log
from bench.wrk_run import Cores, WrkResult, wrk_command, wrk_run_until
from bench.wrk_setup import APPLICATION, CONTESTED_SEATS, CONTESTED_SLOTS, HOST, SCRIPTS_DIR, HttpSetup

RUN_TAGS = "アイウエオカキクケコサシスセソタチツテトナニヌネノ"  # one per run: no two runs share a person
BASELINE_PATHS = {
    "lock + update one row": "/bench/lock-update/",
    "lock + update + one audit row": "/bench/lock-update-audit/",
}

CHECK_SQL = """
SELECT s.id, s.seats, s.taken,
       COALESCE((SELECT sum(r.seats) FROM {schema}.booking_reservation r
                 WHERE r.slot_id = s.id AND r.status = 'booked'), 0),
       COALESCE((SELECT sum(h.seats) FROM {schema}.booking_hold h WHERE h.slot_id = s.id), 0)
FROM {schema}.booking_slot s
WHERE s.counter_group_id = (SELECT counter_group_id FROM {schema}.booking_purpose WHERE code = %s)
  AND s.start >= %s::date::timestamp AT TIME ZONE 'Asia/Tokyo'
  AND s.start < (%s::date + 1)::timestamp AT TIME ZONE 'Asia/Tokyo' AND NOT s.blocked
"""


@dataclass
class ContestedRun:
    day: str
    wrk: WrkResult
    slots: int = 0
    seats: int = 0
    taken: int = 0
    booked: int = 0
    held: int = 0
    over: int = 0  # seats over capacity: taken > seats, booked > seats, booked + held > seats
    mismatched: int = 0  # slots where taken ≠ booked + held

    def rate(self, key: str) -> float:
        return float(self.wrk.flows.get(key, 0)) / self.wrk.seconds if self.wrk.seconds else 0.0

    @property
    def writes_per_s(self) -> float:
        return self.rate("holds") + self.rate("confirms")


@dataclass
class ContestedResult:
    clients: int
    ceiling: WrkResult
    baselines: dict[str, WrkResult]
    runs: list[ContestedRun] = field(default_factory=list)
    skipped: str = ""

    def median(self, figure: str) -> float:
        values = [getattr(run, figure) if figure == "writes_per_s" else run.rate(figure) for run in self.runs]
        return statistics.median(values) if values else 0.0

    @property
    def overbooked(self) -> int:
        return sum(run.over + run.mismatched for run in self.runs)


def _day_state(schema: str, day: str) -> list[tuple[int, int, int, int, int]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(CHECK_SQL.format(schema=f'"{schema}"'), [APPLICATION, day, day])
        return [tuple(int(value) for value in row) for row in cursor.fetchall()]  # type: ignore[misc]


def contested_check(run: ContestedRun, schema: str) -> ContestedRun:
    """The overbooking count in SQL, after the run."""
    rows = _day_state(schema, run.day)
    run.slots = len(rows)
    for _, seats, taken, booked, held in rows:
        run.seats += seats
        run.taken += taken
        run.booked += booked
        run.held += held
        run.over += max(0, taken - seats) + max(0, booked - seats) + max(0, booked + held - seats)
        run.mismatched += taken != booked + held
    return run


class _SoldOut:
    """wrk's stop condition: every seat of the day booked, or every seat taken and no booking for QUIET seconds (holds
    whose residents do not confirm: at 200 connections a request waits seconds in the queue, so not less)."""

    QUIET = 5.0

    def __init__(self, schema: str, day: str) -> None:
        self.schema, self.day = schema, day
        self.last_booked, self.since = -1, time.monotonic()

    def __call__(self) -> bool:
        rows = _day_state(self.schema, self.day)
        seats = sum(row[1] for row in rows)
        taken = sum(row[2] for row in rows)
        booked = sum(row[3] for row in rows)
        if booked != self.last_booked:
            self.last_booked, self.since = booked, time.monotonic()
        return booked >= seats or (taken >= seats and time.monotonic() - self.since > self.QUIET)


def _drain(port: int) -> None:
    """Wait for the requests wrk left queued at the server (its connections are gone, gunicorn still answers them):
    one request behind them. The overbooking count then sees every write, and the next run starts on an idle server."""
    with suppress(OSError, HTTPException):
        http_get(port, HOST, "/bench/trivial/")


def bench_contested(
    port: int, ceiling_port: int, setup: HttpSetup, args: argparse.Namespace, cores: Cores
) -> ContestedResult:
    from django.db import connection

    from bench.wrk_run import wrk_path, wrk_run

    clients = args.contested_clients

    def plain(port_: int, path: str, host: str) -> WrkResult:
        def command(seconds: float) -> list[str]:
            return wrk_command(
                port_, path, host=host, threads=clients, connections=clients, seconds=seconds, cores=cores
            )

        wrk_run(command(1), 1)  # warm-up
        seconds = max(args.http_duration, 5)  # at 200 connections a slow baseline answers after seconds
        measured = wrk_run(command(seconds), seconds)
        log(
            f"http:   {path}: {measured.rps:,.0f} requests/s, {measured.errors} errors {measured.failed}",
            "http",
        )
        return measured

    if wrk_path() is None or not setup.contested_days:
        return ContestedResult(
            clients, WrkResult(), {}, skipped="wrk missing" if wrk_path() is None else "no runs"
        )
    log(f"http: contested: ceiling and lock baselines at -t{clients} -c{clients}", "http")
    ceiling = plain(ceiling_port, "/", "localhost")
    baselines = {name: plain(port, path, HOST) for name, path in BASELINE_PATHS.items()}
    result = ContestedResult(clients, ceiling, baselines)
    for index, day in enumerate(setup.contested_days):
        command = wrk_command(
            port,
            f"/book/{APPLICATION}/{day}/",
            host=HOST,
            threads=clients,
            connections=clients,
            seconds=args.contested_limit,
            cores=cores,
            script=SCRIPTS_DIR / "contested.lua",
            script_args=[APPLICATION, day, RUN_TAGS[index % len(RUN_TAGS)]],
        )
        wrk = wrk_run_until(command, _SoldOut(setup.schema, day), limit=args.contested_limit)
        _drain(port)
        run = contested_check(ContestedRun(day, wrk), setup.schema)
        result.runs.append(run)
        log(
            f"http:   contested run {index + 1} ({day}): {wrk.seconds:.1f} s, {run.rate('holds'):.0f} holds/s, "
            f"{run.rate('confirms'):.0f} confirmations/s, booked {run.booked}/{run.seats}, over {run.over}, "
            f"mismatched {run.mismatched}; {wrk.flows} {wrk.failed}",
            "http",
        )
    connection.set_schema_to_public()  # type: ignore[attr-defined]  # django-tenants' backend
    return result


def contested_figures(result: ContestedResult) -> dict[str, Any]:
    """What the report needs: medians over the runs, and the ratios to the lock baselines."""
    lock = result.baselines.get("lock + update one row", WrkResult()).rps
    audit = result.baselines.get("lock + update + one audit row", WrkResult()).rps
    writes = result.median("writes_per_s")
    return {
        "holds": result.median("holds"),
        "confirms": result.median("confirms"),
        "writes": writes,
        "vs_lock": writes / lock if lock else float("nan"),
        "vs_audit": writes / audit if audit else float("nan"),
        "slots": CONTESTED_SLOTS,
        "seats": CONTESTED_SEATS,
    }
