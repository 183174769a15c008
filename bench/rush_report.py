"""The text of section 4 of bench/report.md (the booking rush measured by bench/rush.py)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from bench.clients import REQUEST_TIMEOUT, Load
from bench.common import load_text, percentile, ratio, table
from bench.rush import RUSH_STEPS, RushResult


def rush_section(result: RushResult, args: argparse.Namespace, header: str = "") -> list[str]:
    def ms(values: Sequence[float], q: float) -> str:
        return f"{percentile(values, q):.0f}" if values else "–"

    def statuses(load: Load) -> str:
        return ", ".join(f"{k}×{v}" for k, v in sorted(load.statuses.items()))

    check = result.check
    booked = result.outcomes.get("booked", 0)
    bookings_per_s = booked / result.seconds if result.seconds else 0.0
    flows_per_s = result.clients / result.seconds if result.seconds else 0.0
    trivial = result.baselines["trivial view"]
    lock_update = result.baselines["lock + update one row"]
    cal_book = result.baselines["month calendar (booking city)"]
    cal_browse = result.baselines["month calendar (browsing city)"]
    flow_requests = sum(load.count for load in result.steps.values())
    flow_rate = flow_requests / result.seconds if result.seconds else 0.0
    flow_ms = [m for load in result.steps.values() for m in load.ms]
    errors = sum(load.errors for load in result.steps.values()) + result.browse.errors
    overbooked = (
        check["overbooked_seats"]
        + len(check["mismatched"])
        + max(0, check["day_booked"] - check["day_seats"])
    )
    cal_ratio = cal_browse.rate / trivial.rate if trivial.rate else 0.0

    out = [
        "## 4. Booking rush: residents booking one day over HTTP while another city browses",
        "",
        *([header, ""] if header else []),
        f"A production-like server: gunicorn with `ops/gunicorn.conf.py` (gthread), `-w {result.workers} "
        f"--threads {result.threads}`, `--max-requests 0` (no worker recycling mid-measurement), settings "
        "`bench.settings_bench` (the project's, with two baseline views added to the city URLconf) and "
        "`MADOGUCHI_BENCH_LIMITS=true` (the residents' per-address limits and hold caps raised, since every client "
        "is 127.0.0.1), the bench's own database, cache in the "
        "database (no Redis, as `make run`). "
        f"Two new cities: `{result.book_host}` is booked, `{result.browse_host}` is browsed; both with the whole "
        f"booking window of slots from the default hours. The rush day {result.day} has {result.slots} slots × "
        f"{result.seats} seats = {check['day_seats']} seats for residents. "
        f"**{result.clients} booking clients** start together, each once through the resident flow for one "
        f"person on that day (GET month calendar → GET day → POST hold on a random time the day page shows free "
        f"→ GET form → POST confirm, CSRF token and cookies as a browser), while **{result.browsers} browsing "
        "clients** load the other city's month calendar (this month and the rush month) until the last booking "
        f"client is done. A new connection per request to 127.0.0.1 with the city's Host header, "
        f"{REQUEST_TIMEOUT:.0f} s timeout. Baselines: on the same server and database just before, {args.rush_requests} "
        f"requests each from {result.baseline_clients} concurrent clients (two halves, in alternating order).",
        load_text("rush"),
        "",
        f"**Overbookings: {overbooked}** "
        + ("(none)" if overbooked == 0 else "**(MUST BE 0)**")
        + f". Checked in the database after the run over the {check['slots_checked']} slots holding seats: "
        f"taken ≤ seats and booked + held ≤ seats on every slot ({check['overbooked_seats']} seats over); taken = "
        f"seats of booked reservations + live holds on every slot ({len(check['mismatched'])} mismatched"
        + (": " + "; ".join(check["mismatched"][:5]) if check["mismatched"] else "")
        + f"); booked reservations on the day {check['day_booked']} ≤ its {check['day_seats']} resident seats. "
        f"The clients received {check['codes_client']} booking codes ({check['codes_unique']} distinct, "
        f"{check['codes_in_db']} found booked in the database; {check['reservations']} booked in the city in all); "
        f"{check['holds_left']} holds left (taken by clients whose confirmation failed; released by the periodic task after "
        "the hold time).",
        "",
        "Outcomes per booking client:",
        "",
        *table(
            ["outcome", "clients"],
            [[name, str(n)] for name, n in result.outcomes.most_common()]
            + ([["did not finish in time", str(result.unfinished)]] if result.unfinished else []),
        ),
        "",
        f"Errors (5xx, timeouts, connection failures): **{errors}** in the rush "
        f"({sum(load.count for load in result.steps.values())} booking-flow requests, {result.browse.count} browsing "
        f"requests); in the baselines: {sum(load.errors for load in result.baselines.values())}.",
        "",
        "Figures beside their baselines:",
        "",
    ]
    out += table(
        ["figure", "rush", "baseline", "ratio"],
        [
            [
                "bookings per second (booked / rush time)",
                f"{bookings_per_s:.1f} ({booked} in {result.seconds:.1f} s)",
                f"lock + update one row: {lock_update.rate:.1f} transactions/s",
                f"**{ratio(bookings_per_s, lock_update.rate)}**",
            ],
            [
                "resident flows per second (any outcome)",
                f"{flows_per_s:.1f}",
                f"lock + update one row: {lock_update.rate:.1f}/s",
                ratio(flows_per_s, lock_update.rate),
            ],
            [
                "availability page, requests/s (browsing city, no writes)",
                f"{cal_browse.rate:.1f}",
                f"trivial view: {trivial.rate:.1f}/s",
                f"**{cal_ratio:.2f}×** — target ≥ 0.50×: "
                + ("**met**" if cal_ratio >= 0.5 else "**not met**"),
            ],
            [
                "availability page, requests/s (booking city, before the rush)",
                f"{cal_book.rate:.1f}",
                f"trivial view: {trivial.rate:.1f}/s",
                ratio(cal_book.rate, trivial.rate),
            ],
            [
                "availability page while the rush runs (browsing city), requests/s",
                f"{result.browse.rate:.1f} (p50 {ms(result.browse.ms, 0.5)} ms)",
                f"same page without the rush: {cal_browse.rate:.1f}/s (p50 {ms(cal_browse.ms, 0.5)} ms)",
                ratio(result.browse.rate, cal_browse.rate),
            ],
            [
                "whole resident flow, requests/s (all five steps)",
                f"{flow_rate:.1f} ({flow_requests} requests)",
                f"trivial view: {trivial.rate:.1f}/s",
                f"**{ratio(flow_rate, trivial.rate)}**",
            ],
            [
                "whole resident flow, ms per request p50 / p95 / p99",
                f"{ms(flow_ms, 0.5)} / {ms(flow_ms, 0.95)} / {ms(flow_ms, 0.99)}",
                f"trivial view: {ms(trivial.ms, 0.5)} / {ms(trivial.ms, 0.95)} / {ms(trivial.ms, 0.99)}",
                f"**{ratio(percentile(flow_ms, 0.5), percentile(trivial.ms, 0.5))}** (p50)",
            ],
        ],
    )
    out += ["", "Latency per step in the rush and per baseline (ms, client side, answered requests):", ""]
    rows = []
    for name, load in [
        *((f"rush: {s}", result.steps[s]) for s in RUSH_STEPS),
        ("rush: browsing calendar", result.browse),
    ]:
        rows.append(
            [name, str(load.count), ms(load.ms, 0.5), ms(load.ms, 0.95), ms(load.ms, 0.99), statuses(load)]
        )
    for name, load in result.baselines.items():
        rows.append(
            [
                f"baseline: {name}",
                str(load.count),
                ms(load.ms, 0.5),
                ms(load.ms, 0.95),
                ms(load.ms, 0.99),
                f"{statuses(load)}; {load.rate:.1f}/s",
            ]
        )
    out += table(["requests", "n", "p50", "p95", "p99", "HTTP status (count)"], rows)
    out += [
        "",
        f"SQL queries per request (counted once through Django's test client, cache warm, not timed): month "
        f"calendar {result.queries.get('month calendar', '?')}, day page {result.queries.get('day page', '?')}. "
        "Without Redis every cache read is a query on the cache table, and the calendar's cached month is deleted "
        "by every hold and booking of that counter group, so during a rush the booking city's calendar rebuilds "
        'it often. A 409 ("just taken") also counts as an attack sign (4xx) in the cache. Lock + update: '
        f"the counter row ended at {check['lock_update_counter']} "
        f"(= {lock_update.statuses.get('200', 0) + 20 * result.workers} answered with 200, warm-up included, when "
        "no update was lost).",
        "",
    ]
    return out
