"""Issue 12, item 4: the write path on contested slots, in the `http` part (bench/wrk_pages.py).

A day of 15 slots × 4 seats and `--contested-clients` (200) residents through wrk (bench/wrk/contested.lua, one
connection per wrk thread): day page → hold → hold form → confirmation, a new resident after each booking, another
free time after a "just taken" (409). wrk is stopped (SIGINT: it still prints its summary and the script's counts)
once the day is sold out (every seat booked, or every seat taken and nothing booked for 10 s), at most
`--contested-limit` seconds. `--contested-runs` (10) runs after an unmeasured warm-up, each on a fresh day, each
followed by the overbooking count in SQL (the warm-up's too): taken ≤ seats, taken = seats of booked reservations + seats of live holds, booked seats ≤ seats, no
slot over. Holds and confirmations per second are compared with the lock-and-update baselines (one row; one row and
one audit row) through the same wrk settings on the same server in the same run, and the generator's ceiling at
those settings (the bare app) is stated.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import Any, Protocol

from bench.common import http_get, log, table
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


@dataclass(kw_only=True)
class Overbooking:
    """CHECK_SQL's rows summed: the seats, and what was taken, booked and held against them."""

    slots: int = 0
    seats: int = 0
    taken: int = 0
    booked: int = 0
    held: int = 0
    over: int = 0  # seats over capacity: taken > seats, booked > seats, booked + held > seats
    mismatched: int = 0  # slots where taken ≠ booked + held

    @property
    def overbooked(self) -> int:
        return self.over + self.mismatched

    def count(self, rows: Sequence[tuple[int, int, int, int, int]]) -> None:
        for _, seats, taken, booked, held in rows:
            self.slots += 1
            self.seats += seats
            self.taken += taken
            self.booked += booked
            self.held += held
            self.over += max(0, taken - seats) + max(0, booked - seats) + max(0, booked + held - seats)
            self.mismatched += taken != booked + held


@dataclass
class ContestedRun(Overbooking):
    day: str
    wrk: WrkResult

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
    warm_up_over: int = 0  # the unmeasured first run's overbookings (counted like the others)

    def median(self, figure: str) -> float:
        values = [getattr(run, figure) if figure == "writes_per_s" else run.rate(figure) for run in self.runs]
        return statistics.median(values) if values else 0.0

    @property
    def overbooked(self) -> int:
        return self.warm_up_over + sum(run.overbooked for run in self.runs)


def day_state(schema: str, day: str) -> list[tuple[int, int, int, int, int]]:
    """CHECK_SQL's rows for one day of APPLICATION's slots: (slot, seats, taken, booked, held)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(CHECK_SQL.format(schema=f'"{schema}"'), [APPLICATION, day, day])
        return [tuple(int(value) for value in row) for row in cursor.fetchall()]  # type: ignore[misc]


def contested_check(run: ContestedRun, schema: str) -> ContestedRun:
    """The overbooking count in SQL, after the run."""
    run.count(day_state(schema, run.day))
    return run


class SoldOut:
    """wrk's stop condition: every seat of the day booked, or every seat taken and no booking for QUIET seconds after
    that (holds whose residents do not confirm). At 200 connections each request waits seconds in the server's queue
    and a held resident needs two more (form, confirmation), so not less."""

    QUIET = 10.0

    def __init__(self, schema: str, day: str) -> None:
        self.schema, self.day = schema, day
        self.last_booked, self.since = -1, time.monotonic()

    def __call__(self) -> bool:
        rows = day_state(self.schema, self.day)
        seats = sum(row[1] for row in rows)
        taken = sum(row[2] for row in rows)
        booked = sum(row[3] for row in rows)
        if booked != self.last_booked or taken < seats:
            self.last_booked, self.since = booked, time.monotonic()
        return booked >= seats or time.monotonic() - self.since > self.QUIET


def drain(port: int) -> None:
    """Wait for the requests wrk left queued at the server (its connections are gone, gunicorn still answers them):
    one request behind them. The overbooking count then sees every write, and the next run starts on an idle server."""
    with suppress(OSError, HTTPException):
        http_get(port, HOST, "/bench/trivial/")


def sold_out_run(command: list[str], port: int, schema: str, day: str, *, limit: float) -> ContestedRun:
    """One contested run: wrk until the day is sold out (or `limit` s), the server's queue drained, then the
    overbooking count in SQL (residents' holds and confirmations, or the API's booking POSTs)."""
    wrk = wrk_run_until(command, SoldOut(schema, day), limit=limit)
    drain(port)
    return contested_check(ContestedRun(day, wrk), schema)


class Runs(Protocol):
    runs: list[ContestedRun]
    warm_up_over: int


def measured_run(
    result: Runs,
    index: int,
    command: list[str],
    where: tuple[int, str, str],
    limit: float,
    what: str,
    rates: Callable[[ContestedRun], str],
) -> None:
    """Run `index` of a series on contested days (`where`: port, schema, day): the first (index 0) warms the
    workers up, 5 s at most, its overbookings counted but not its rates; the others are measured, `limit` s at
    most. A log line each, `rates` naming the run's own."""
    port, schema, day = where
    warm_up = index == 0
    run = sold_out_run(command, port, schema, day, limit=5 if warm_up else limit)
    wrk = run.wrk
    if warm_up:
        result.warm_up_over = run.overbooked
    else:
        result.runs.append(run)
    log(
        f"http:   {what} {'warm-up' if warm_up else f'run {index}'} ({day}): {wrk.seconds:.1f} s, {rates(run)}, "
        f"booked {run.booked}/{run.seats}, over {run.over}, mismatched {run.mismatched}; {wrk.flows} {wrk.failed}",
        "http",
    )


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
    # The first day warms the workers' hold and confirmation paths, unmeasured (the first run was half as fast).
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
        measured_run(
            result,
            index,
            command,
            (port, setup.schema, day),
            args.contested_limit,
            "contested",
            lambda run: f"{run.rate('holds'):.0f} holds/s, {run.rate('confirms'):.0f} confirmations/s",
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


# --- the report's text ----------------------------------------------------------------------------------------


def contested_lines(result: ContestedResult, target: float) -> list[str]:
    """The contested runs' part of section 6 (bench/wrk_report.py): settings, one row a run, medians, ratios, the
    overbooking count, and what bounds a miss of `target` (writes / lock + update)."""
    if result.skipped or not result.runs:
        return ["Contested slots (item 4): not measured (" + (result.skipped or "no runs") + ")."]
    figures = contested_figures(result)
    lock = result.baselines.get("lock + update one row", WrkResult())
    audit = result.baselines.get("lock + update + one audit row", WrkResult())
    rows = [
        [
            str(i + 1),
            run.day,
            f"{run.wrk.seconds:.1f}",
            f"{run.rate('holds'):,.0f}",
            f"{run.rate('confirms'):,.0f}",
            f"{run.wrk.rps:,.0f}",
            f"{int(run.wrk.flows.get('held', 0))} / {int(run.wrk.flows.get('hold_taken', 0))}",
            f"{run.booked} / {run.seats}",
            str(run.held),
            str(run.over),
            str(run.mismatched),
            run.wrk.failures() or run.wrk.failed[:80],
        ]
        for i, run in enumerate(result.runs)
    ]
    overbooked = result.overbooked
    return [
        f"Contested slots (item 4, bench/wrk/contested.lua): {len(result.runs)} runs, each on a fresh day of "
        f"{figures['slots']} slots × {figures['seats']} seats, {result.clients} residents (`-t{result.clients} "
        f"-c{result.clients}`: one connection per wrk thread), stopped once the day is sold out. The generator's "
        f"ceiling at these settings (the bare app): {result.ceiling.rps:,.0f} requests/s"
        + (f" ({result.ceiling.failed})" if result.ceiling.failed else "")
        + f"; lock + update one row: {lock.rps:,.0f}/s; lock + update + one audit row: {audit.rps:,.0f}/s (same "
        "settings, same server).",
        "",
        *table(
            [
                "run",
                "day",
                "s",
                "holds/s",
                "confirmations/s",
                "requests/s",
                "held / just taken",
                "booked / seats",
                "held left",
                "seats over",
                "slots taken ≠ booked + held",
                "failed steps",
            ],
            rows,
        ),
        "",
        f"Median over the runs: {figures['holds']:,.0f} holds/s and {figures['confirms']:,.0f} confirmations/s, "
        f"{figures['writes']:,.0f} writes/s: {figures['vs_lock']:.2f}× lock + update one row, "
        f"{figures['vs_audit']:.2f}× lock + update + one audit row. Every write is a request among the day pages "
        "and hold forms the same residents load, on the same two workers. Overbookings (SQL after each run): "
        + (f"**{overbooked}**" if overbooked else f"0 in {len(result.runs)} runs in a row")
        + ".",
        *([] if figures["vs_lock"] >= target else ["", "What bounds it: " + _contested_bound(result)]),
    ]


def _contested_bound(result: ContestedResult) -> str:
    """Why holds + confirmations stay under half the lock-and-update rate, from the runs' own counts."""
    holds = sum(int(run.wrk.flows.get("holds", 0)) for run in result.runs)
    taken = sum(int(run.wrk.flows.get("hold_taken", 0)) for run in result.runs)
    requests = sum(run.wrk.requests for run in result.runs)
    writes = holds + sum(int(run.wrk.flows.get("confirms", 0)) for run in result.runs)
    lock = result.baselines.get("lock + update one row", WrkResult()).rps
    audit = result.baselines.get("lock + update + one audit row", WrkResult()).rps
    parts = [
        f"writes are {writes / requests:.0%} of the requests the residents make (the rest are day pages and hold "
        "forms on the same two workers)"
        if requests
        else "no requests counted",
        f'{taken / holds:.0%} of the holds answer "just taken" (409), a full page (the day\'s times and the other '
        "days), not a bare write"
        if holds
        else "no holds",
    ]
    if lock and audit:
        parts.append(
            f"a booking appends an audit row under the city's chain lock, and lock + update + one audit row is "
            f"{audit / lock:.2f}× lock + update alone"
        )
    parts.append(
        'what would move it: a cheaper "just taken" answer (a redirect to the cached day page instead of the '
        "times of the day and the other days rendered for this resident), fewer writes per hold (each also writes its session row "
        "and the limit counters), and an audit append that does not serialise "
        "every booking of a city"
    )
    return "; ".join(parts) + "."
