"""Issue 13, item 6: the REST API in the `http` part (bench/wrk_pages.py), on the same servers, wrk settings and
baselines as the pages.

- **Availability**: `GET /api/v1/availability/` for a month of the application counter, with a key (Bearer), wrk at
  the pages' settings. Target: ≥ 0.5× the trivial view through every middleware (the performance work's baseline on
  the same server), and stated against the generator's ceiling.
- **Booking POST on contested slots**: a fresh day of 15 slots × 4 seats (as the residents' contested runs),
  `POST /api/v1/reservations/` from `--contested-clients` connections (bench/wrk/api_book.lua), each request with
  its own `Idempotency-Key` and a new person, another slot after a "full" answer, stopped once every seat is booked.
  Target: booking POSTs per second ≥ 0.5× the audited lock-and-update (the contested runs' baseline at the same wrk
  settings). The overbooking count is the same SQL check as the residents' runs.

The key has every scope a city's system would give a call centre (slots:read, reservations:read/write). The
servers raise the key's rate limit (bench/settings_bench.py): the counter is still hit on every request, so the
limit costs what it costs in production, it just does not refuse the generator.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import Sandbox, table
from bench.wrk_contested import RUN_TAGS, ContestedRun, measured_run
from bench.wrk_run import Cores, WrkResult, wrk_command, wrk_path
from bench.wrk_setup import APPLICATION, HOST, SCRIPTS_DIR, HttpSetup, contested_days

API_AVAILABILITY = "API availability (a month)"
AVAILABILITY_TARGET = 0.5  # × the trivial view, every middleware
BOOKING_TARGET = 0.5  # × lock + update + one audit row
SCOPES = ("slots:read", "reservations:read", "reservations:write")


@dataclass
class ApiSetup:
    token: str
    month_first: str
    month_last: str
    days: list[str] = field(default_factory=list)  # fresh contested days, one per run (the first a warm-up)
    slots_files: list[Path] = field(default_factory=list)  # the day's slot ids, one per line


@dataclass
class ApiResult:
    availability: WrkResult
    availability_path: str
    runs: list[ContestedRun] = field(default_factory=list)
    warm_up_over: int = 0
    clients: int = 0
    skipped: str = ""

    def booking_rate(self) -> float:
        values = [run.rate("booked") for run in self.runs]
        return statistics.median(values) if values else 0.0

    def posts_rate(self) -> float:
        """Answered booking POSTs a second: booked (201) or refused as full (409); a failed one (any other status)
        is not an answer that counts."""
        values = [run.rate("booked") + run.rate("full") for run in self.runs]
        return statistics.median(values) if values else 0.0

    @property
    def overbooked(self) -> int:
        return self.warm_up_over + sum(run.overbooked for run in self.runs)


def api_setup(box: Sandbox, setup: HttpSetup, runs: int) -> ApiSetup:
    """A key of the measured city, a month for availability, and `runs` fresh contested days (after the residents'
    days) with their slot ids written beside the sandbox's data."""
    import datetime as dt

    from django.db import connection
    from django_tenants.utils import schema_context

    from apps.booking.calendar.hours import TOKYO
    from apps.booking.models import Purpose, Slot
    from apps.security.actors import Actor
    from apps.security.api_keys import api_key_create

    with schema_context(setup.schema):
        issued = api_key_create(name="bench", scopes=SCOPES, expires_at=None, actor=Actor.system("bench"))
        first = dt.date.fromisoformat(setup.application_day).replace(day=1)
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        after = max(
            dt.date.fromisoformat(day)
            for day in [setup.application_day, setup.pickup_day, *setup.contested_days]
        )
        days = contested_days(after, runs)
        group = Purpose.objects.get(code=APPLICATION).counter_group
        files = []
        for day in days:
            start = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), TOKYO)
            ids = Slot.objects.filter(
                counter_group=group,
                start__gte=start,
                start__lt=start + dt.timedelta(days=1),
                blocked=False,
            ).values_list("pk", flat=True)
            path = box.data_dir / f"api-slots-{day}.txt"
            path.write_text("".join(f"{pk}\n" for pk in ids))
            files.append(path)
    connection.set_schema_to_public()  # type: ignore[attr-defined]  # django-tenants' backend
    return ApiSetup(issued.token, first.isoformat(), last.isoformat(), days, files)


def bench_api(
    port: int, api: ApiSetup, schema: str, args: argparse.Namespace, cores: Cores, *, measure: Any
) -> ApiResult:
    """Availability through `measure` (the pages' wrk settings), then the booking runs."""
    from django.db import connection

    auth = f"Authorization: Bearer {api.token}"
    path = f"/api/v1/availability/?purpose={APPLICATION}&from={api.month_first}&to={api.month_last}"
    availability = measure(API_AVAILABILITY, port, path, headers=[auth])
    result = ApiResult(availability, path, clients=args.contested_clients)
    if wrk_path() is None or not api.days:
        result.skipped = "wrk missing" if wrk_path() is None else "no runs"
        return result
    clients = args.contested_clients
    for index, (day, slots_file) in enumerate(zip(api.days, api.slots_files, strict=True)):
        command = wrk_command(
            port,
            "/api/v1/reservations/",
            host=HOST,
            threads=clients,
            connections=clients,
            seconds=args.contested_limit,
            cores=cores,
            script=SCRIPTS_DIR / "api_book.lua",
            script_args=[APPLICATION, str(slots_file), RUN_TAGS[(index + 12) % len(RUN_TAGS)]],
            headers=[auth, "Content-Type: application/json"],
        )
        measured_run(
            result,
            index,
            command,
            (port, schema, day),
            args.contested_limit,
            "API booking",
            lambda run: f"{run.rate('posts'):.0f} POSTs/s, {run.rate('booked'):.0f} bookings/s",
        )
    connection.set_schema_to_public()  # type: ignore[attr-defined]  # django-tenants' backend
    return result


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}×" if base > 0 and value > 0 else "n/a"


def _availability_bound(availability: float, trivial: float, one_query: float) -> str:
    """Why availability stays under half the trivial view, from the run's own baselines."""
    text = (
        "every request of a key runs SQL that the trivial view does not: the network gate's cache read (`/api/` is a "
        "staff path), the key's row (a revoked or rotated key must fail at once, so it is read each time), the "
        "key's rate counter (an upsert, `apps/security/counters.py`), the resident context and the month's "
        "availability (two cache reads on the database cache), each after django-tenants' `SET search_path`: about "
        "ten statements"
    )
    if trivial > 0 and one_query > 0:
        text += (
            f"; in this run one `SELECT 1` alone takes the trivial view to {one_query / trivial:.2f}× "
            f"(each round trip to PostgreSQL costs as much as the whole trivial view on this 2-core machine, "
            f"where wrk, gunicorn and PostgreSQL share the cores), and availability is at {availability / trivial:.2f}×"
        )
    return (
        text
        + ". What would move it: the rate counters and the network list in Redis where it runs (`--http-redis` "
        "measures the caches there), a process-local key table checked against a version row like the tenant "
        "routing map (a revocation would then take up to a second), and `TENANT_LIMIT_SET_CALLS` (one "
        "`SET search_path` per connection, not per statement; off because a rolled-back transaction also rolls "
        "the path back)."
    )


def api_lines(
    result: ApiResult,
    *,
    ceiling: float,
    trivial: WrkResult | None,
    lock_audit: WrkResult | None,
    one_query: WrkResult | None = None,
) -> list[str]:
    """The API's part of section 6: availability and the booking POST, each beside its baseline and the ceiling."""
    trivial_rps = trivial.rps if trivial else 0.0
    availability = result.availability
    lines = [
        "### The REST API (issue 13, item 6)",
        "",
        f"`GET {result.availability_path}` with a key, at the pages' wrk settings, on the same server: "
        f"{availability.rps:,.0f} requests/s"
        + (f" ({availability.failed})" if availability.failed else "")
        + f", {_ratio(availability.rps, trivial_rps)} the trivial view through every middleware "
        f"({trivial_rps:,.0f}/s), {_ratio(availability.rps, ceiling)} the generator's ceiling ({ceiling:,.0f}/s); "
        f"p50 / p99 {availability.p50_ms:.1f} / {availability.p99_ms:.1f} ms"
        + (f"; {availability.non_2xx_3xx} non-2xx" if availability.non_2xx_3xx else "")
        + ".",
        "",
    ]
    if trivial_rps > 0 and availability.rps / trivial_rps < AVAILABILITY_TARGET:
        lines += [
            "What bounds it: "
            + _availability_bound(availability.rps, trivial_rps, one_query.rps if one_query else 0.0)
            + " The profile below shows the split.",
            "",
        ]
    if result.skipped or not result.runs:
        lines.append("Booking POST on contested slots: not measured (" + (result.skipped or "no runs") + ").")
        return lines
    lock_rps = lock_audit.rps if lock_audit else 0.0
    rows = [
        [
            str(i + 1),
            run.day,
            f"{run.wrk.seconds:.1f}",
            f"{run.rate('booked') + run.rate('full'):,.0f}",
            f"{run.rate('booked'):,.0f}",
            str(int(run.wrk.flows.get("full", 0))),
            f"{run.booked} / {run.seats}",
            str(run.over),
            str(run.mismatched),
            run.wrk.failures() or run.wrk.failed[:80],
        ]
        for i, run in enumerate(result.runs)
    ]
    posts = result.posts_rate()
    lines += [
        f"Booking POST on contested slots (bench/wrk/api_book.lua): {len(result.runs)} runs after a warm-up, each a "
        f"fresh day of 15 slots × 4 seats, {result.clients} connections (`-t{result.clients} -c{result.clients}`), "
        "each POST with its own Idempotency-Key and person, stopped once every seat is booked.",
        "",
        *table(
            [
                "run",
                "day",
                "s",
                "answered POSTs/s (201 + 409)",
                "bookings/s",
                "answered full",
                "booked / seats",
                "seats over",
                "slots taken ≠ booked + held",
                "failed (status)",
            ],
            rows,
        ),
        "",
        f"Median {posts:,.0f} answered POSTs/s (booked or full; failures not counted): {_ratio(posts, lock_rps)} lock + update + one audit row ({lock_rps:,.0f}/s at "
        "the same settings, same server). Overbookings (SQL after each run): "
        + (f"**{result.overbooked}**" if result.overbooked else f"0 in {len(result.runs)} runs in a row")
        + ".",
    ]
    return lines


def api_target_rows(
    result: ApiResult, *, trivial: WrkResult | None, lock_audit: WrkResult | None
) -> list[list[str]]:
    """Rows for the targets table: availability vs the trivial view, booking POSTs vs the audited lock."""
    rows = []
    trivial_rps = trivial.rps if trivial else 0.0
    share = result.availability.rps / trivial_rps if trivial_rps and result.availability.rps else float("nan")
    rows.append(
        [
            "API availability, vs trivial view (every middleware)",
            f"{result.availability.rps:,.0f} requests/s",
            "n/a" if share != share else f"{share:.2f}×",
            f"≥ {AVAILABILITY_TARGET}×",
            "—" if share != share else ("yes" if share >= AVAILABILITY_TARGET else "**no**"),
        ]
    )
    lock_rps = lock_audit.rps if lock_audit else 0.0
    posts = result.posts_rate()
    booking = posts / lock_rps if lock_rps and posts else float("nan")
    rows.append(
        [
            "API booking POST on contested slots, vs lock + update + one audit row",
            f"{posts:,.0f} POSTs/s" if result.runs else (result.skipped or "not run"),
            "n/a" if booking != booking else f"{booking:.2f}×",
            f"≥ {BOOKING_TARGET}×",
            "—" if booking != booking else ("yes" if booking >= BOOKING_TARGET else "**no**"),
        ]
    )
    return rows


__all__ = ["ApiResult", "ApiSetup", "api_lines", "api_setup", "api_target_rows", "bench_api"]
