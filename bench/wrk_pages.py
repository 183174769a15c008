"""Section 6 of `make bench` (part `http`): resident pages and the resident flow through `wrk`, each a ratio to the
generator's ceiling measured in the same run (issue 12, items 1 and 5).

The Python clients of sections 3 and 4 top out near 740 requests/s, so they cannot tell a fast page from a slow
one. Here Debian's `wrk` (C, epoll) drives the servers:

- **servers**: two gunicorns on free ports of 127.0.0.1, each `--http-workers` (2) sync workers, the bench's
  production-like environment (bench/common.py): the ceiling's bare Django app (bench/settings_trivial.py: one view,
  two middleware, no database) and the project (bench/settings_bench.py: the city URLconf plus the baselines of
  bench/urls_bench.py) on the demo cities of `make run` (`manage.py bootstrap --demo`, ageo measured);
- **the ceiling**: the bare app's view through the same wrk settings, at the start and at the end; every figure is a
  ratio to the higher of the two, and a page above half of it is flagged client-bound (the generator, not the page,
  may then be the bound);
- **baselines** on the project's server: the trivial view through every middleware, one `SELECT 1`, a lock and
  update of one row, and that plus one audit row;
- **pages**: `wrk -tT -cC -dDs` (`--http-threads`, `--http-connections`, `--http-duration`) with the city's Host;
- **the flow** (bench/wrk/flow.lua): one connection per wrk thread, a new resident per flow: day page → hold (POST)
  → hold form → confirmation (POST) → done page; the application-support purpose (no card) and the pickup purpose
  (generated cards: notice number + date of birth, written to the city before the run);
- **cores**: with 2 CPUs or more, wrk runs on the first (`taskset -c`), the servers on the others (their affinity
  set while they start, inherited by the workers); PostgreSQL is not pinned.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import re
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from typing import Any

from bench.common import (
    CITY_HOST_SUFFIX,
    ROOT,
    Sandbox,
    gunicorn_start,
    gunicorn_stop,
    http_get,
    log,
    manage,
    table,
)

HEADING = "## 6. HTTP throughput"
CITY = "ageo"  # the demo city of `make run`
HOST = CITY + CITY_HOST_SUFFIX
WRK = "/usr/bin/wrk"
SCRIPTS = ROOT / "bench" / "wrk"
APPLICATION = "application"  # 申請サポート: no notice number
PICKUP = "pickup"  # 受け取り: notice number + date of birth
FLOW_SEATS = 100_000  # seats per slot of the flow's days: the flow measures requests, not a full day
CEILING = "ceiling: trivial view, bare app"


@dataclass
class WrkResult:
    """What one wrk run printed (its text output; the flow script adds a `FLOWS` line)."""

    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    socket_errors: dict[str, int] = field(default_factory=dict)
    non_2xx_3xx: int = 0
    flows: dict[str, Any] = field(default_factory=dict)
    failed: str = ""  # why wrk could not run, when it could not

    @property
    def errors(self) -> int:
        return self.non_2xx_3xx + sum(self.socket_errors.values())


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_SUMMARY = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),")
_PERCENTILE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$")
_SOCKET = re.compile(r"^\s*Socket errors: (.*)$")
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses: (\d+)")
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)")
_FLOWS = re.compile(r"^FLOWS (.*)$")


def parse_wrk(text: str) -> WrkResult:
    """wrk's text output (with --latency) → figures. Lines it does not know are ignored."""
    result = WrkResult()
    for line in text.splitlines():
        if match := _SUMMARY.match(line):
            result.requests = int(match.group(1))
            result.seconds = float(match.group(2)) * _UNITS[match.group(3)] / 1000
        elif match := _PERCENTILE.match(line):
            value = float(match.group(2)) * _UNITS[match.group(3)]
            if match.group(1) == "50":
                result.p50_ms = value
            else:
                result.p99_ms = value
        elif match := _SOCKET.match(line):
            for part in match.group(1).split(","):
                name, _, count = part.strip().partition(" ")
                result.socket_errors[name] = int(count)
        elif match := _NON_2XX.match(line):
            result.non_2xx_3xx = int(match.group(1))
        elif match := _RPS.match(line):
            result.rps = float(match.group(1))
        elif match := _FLOWS.match(line):
            # key=value pairs: completed=12 seconds=6.0 fail.hold.409=3 ...
            for pair in match.group(1).split():
                key, _, figure = pair.partition("=")
                result.flows[key] = float(figure) if "." in figure else int(figure)
    return result


# --- the run's settings and the cores ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cores:
    generator: tuple[int, ...]
    servers: tuple[int, ...]

    @property
    def pinned(self) -> bool:
        return bool(self.generator)

    def describe(self) -> str:
        if not self.pinned:
            return "not pinned (fewer than 2 CPUs, or --no-http-pin)"
        return (
            f"wrk on CPU {','.join(map(str, self.generator))}, both gunicorns on CPU "
            f"{','.join(map(str, self.servers))} (`taskset`); PostgreSQL not pinned"
        )


def choose_cores(pin: bool) -> Cores:
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not pin or len(available) < 2:
        return Cores((), ())
    return Cores((available[0],), tuple(available[1:]))


@contextmanager
def affinity(cpus: Sequence[int]) -> Iterator[None]:
    """Processes started inside inherit these CPUs (a gunicorn and the workers it forks); restored after."""
    if not cpus:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, set(cpus))
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


@dataclass
class HttpSetup:
    application_day: str
    pickup_day: str
    cards_file: Path
    cards: int


@dataclass
class HttpResult:
    settings: dict[str, str]
    ceilings: list[float]
    baselines: dict[str, WrkResult]
    pages: dict[str, WrkResult]
    flows: dict[str, WrkResult]
    setup: HttpSetup
    cores: Cores

    @property
    def ceiling(self) -> float:
        return max(self.ceilings, default=0.0)


# --- the city: days with room, cards, the baselines' table ------------------------------------------------------


def _first_open_day(purpose_code: str) -> dt.date:
    """The first day at least two days ahead (outside any closing time) with resident seats on the purpose's counter."""
    from django.utils import timezone

    from apps.booking.calendar.hours import TOKYO
    from apps.booking.models import Purpose, Slot

    purpose = Purpose.objects.get(code=purpose_code)
    today = timezone.now().astimezone(TOKYO).date()
    first = dt.datetime.combine(today + dt.timedelta(days=2), dt.time(), TOKYO)
    start = (
        Slot.objects.filter(counter_group=purpose.counter_group, start__gte=first, blocked=False)
        .order_by("start")
        .values_list("start", flat=True)[0]
    )
    return start.astimezone(TOKYO).date()


def _widen_day(purpose_code: str, day: dt.date) -> None:
    from apps.booking.calendar.hours import TOKYO
    from apps.booking.models import Purpose, Slot

    purpose = Purpose.objects.get(code=purpose_code)
    Slot.objects.filter(
        counter_group=purpose.counter_group,
        start__gte=dt.datetime.combine(day, dt.time(), TOKYO),
        start__lt=dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), TOKYO),
    ).update(seats=FLOW_SEATS)


def _cards_create(path: Path, rows: int) -> Path:
    """`rows` bookable cards in the current schema, from bench/issuance.py's generated card list; the flow's file
    (notice number, year, month, day per line) is written beside it."""
    from django.utils import timezone

    from apps.issuance.models import Card, CardState
    from apps.issuance.states import BOOKABLE
    from base.japanese import kana_key, notice_number_normalise
    from bench.issuance import generate_file

    generate_file(path, rows, seed=12)
    state = CardState.DELIVERED if CardState.DELIVERED in BOOKABLE else sorted(BOOKABLE)[0]
    now = timezone.now()
    cards, lines = [], []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for row in reader:
            number = notice_number_normalise(row[0]) or row[0]
            birth = dt.date.fromisoformat(row[3])
            cards.append(
                Card(
                    notice_number=number,
                    name=row[1],
                    kana=row[2],
                    kana_key=kana_key(row[2]),
                    birth_date=birth,
                    postal_code=row[4],
                    address=row[5],
                    delivery_batch=row[6],
                    delivery_date=dt.date.fromisoformat(row[7]),
                    application_kind=row[8],
                    express=False,  # express cards cannot be booked online
                    state=state,
                    state_changed_at=now,
                )
            )
            lines.append(f"{row[0]},{birth.year},{birth.month},{birth.day}")
    Card.objects.bulk_create(cards, batch_size=1000)
    flow_file = path.with_suffix(".flow")
    flow_file.write_text("\n".join(lines) + "\n")
    path.unlink()
    return flow_file


def http_setup(box: Sandbox, cards: int) -> HttpSetup:
    """The demo cities (as `make run` has them), room on the flows' days, cards, the lock baselines' table."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from tenants.selectors import municipality_get_by_slug

    log("http: demo cities (manage.py bootstrap --demo)", "http")
    manage("bootstrap", "--demo")
    schema = municipality_get_by_slug(slug=CITY).schema_name
    with schema_context(schema):
        application_day = _first_open_day(APPLICATION)
        pickup_day = _first_open_day(PICKUP)
        _widen_day(APPLICATION, application_day)
        _widen_day(PICKUP, pickup_day)
        log(f"http: {cards} generated cards for the pickup flow", "http")
        cards_file = _cards_create(box.data_dir / "http-cards.csv", cards)
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS bench_counter (id integer PRIMARY KEY, n bigint NOT NULL)"
            )
            cursor.execute("INSERT INTO bench_counter VALUES (1, 0) ON CONFLICT DO NOTHING")
    connection.set_schema_to_public()  # type: ignore[attr-defined]  # django-tenants' backend
    return HttpSetup(application_day.isoformat(), pickup_day.isoformat(), cards_file, cards)


# --- wrk ----------------------------------------------------------------------------------------------------------


def wrk_command(
    port: int,
    path: str,
    *,
    host: str,
    threads: int,
    connections: int,
    seconds: float,
    cores: Cores,
    script: Path | None = None,
    script_args: Sequence[str] = (),
) -> list[str]:
    command = [
        WRK,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
        "-H",
        f"Host: {host}",
        "-H",
        "Accept-Language: ja",
    ]
    if script is not None:
        command += ["-s", str(script)]
    command.append(f"http://127.0.0.1:{port}{path}")
    if script_args:
        command += ["--", *script_args]
    if cores.pinned:
        command = ["taskset", "-c", ",".join(map(str, cores.generator)), *command]
    return command


def wrk_run(command: Sequence[str], seconds: float) -> WrkResult:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return WrkResult(failed=f"{type(error).__name__}: {error}")
    result = parse_wrk(done.stdout)
    if done.returncode != 0 or result.requests == 0:
        result.failed = (done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}")[-300:]
    return result


def _measure(
    name: str, port: int, path: str, args: argparse.Namespace, cores: Cores, *, host: str = HOST
) -> WrkResult:
    def command(seconds: float, connections: int) -> list[str]:
        return wrk_command(
            port,
            path,
            host=host,
            threads=args.http_threads,
            connections=connections,
            seconds=seconds,
            cores=cores,
        )

    # Warm-up: the workers' first requests import and fill caches (a second each, more on a busy machine).
    for _ in range(2 * args.http_workers):
        with suppress(OSError, HTTPException):
            http_get(port, host, path)
    wrk_run(command(1, args.http_threads), 1)
    log(f"http: {name} ({path})", "http")
    result = wrk_run(command(args.http_duration, args.http_connections), args.http_duration)
    log(f"http:   {result.rps:,.0f} requests/s, {result.errors} errors {result.failed}", "http")
    return result


def _flow(
    name: str, port: int, purpose: str, day: str, setup: HttpSetup, args: argparse.Namespace, cores: Cores
) -> WrkResult:
    log(f"http: flow {name} ({purpose}, {day})", "http")
    connections = args.http_connections
    command = wrk_command(
        port,
        f"/book/{purpose}/{day}/",
        host=HOST,
        threads=connections,  # one connection per thread: the Lua state is per thread, so is the resident
        connections=connections,
        seconds=args.http_duration,
        cores=cores,
        script=SCRIPTS / "flow.lua",
        script_args=[purpose, day, str(setup.cards_file) if purpose == PICKUP else "", str(connections)],
    )
    result = wrk_run(command, args.http_duration)
    log(f"http:   {result.rps:,.0f} requests/s, flows {result.flows} {result.failed}", "http")
    return result


PAGES: list[tuple[str, str]] = [
    ("/healthz (no tenant routing)", "/healthz"),
    ("city top `/`", "/"),
    ("purposes `/book/`", "/book/"),
    ("month calendar `/book/pickup/`", "/book/pickup/"),
    ("month calendar `/book/application/`", "/book/application/"),
    ("day page `/book/application/<day>/`", "/book/application/{day}/"),
    ("staff login page `/accounts/login/`", "/accounts/login/"),
]
BASELINES: list[tuple[str, str]] = [
    ("trivial view, every middleware", "/bench/trivial/"),
    ("one query (`SELECT 1`)", "/bench/query/"),
    ("lock + update one row", "/bench/lock-update/"),
    ("lock + update + one audit row", "/bench/lock-update-audit/"),
]


def bench_http(box: Sandbox, args: argparse.Namespace) -> HttpResult:
    from django.db import connection

    setup = http_setup(box, args.http_cards)
    connection.close()
    gunicorn_stop(box)  # a server an earlier part left running
    cores = choose_cores(args.http_pin)
    log(f"http: cores: {cores.describe()}", "http")
    servers: list[subprocess.Popen[bytes]] = []
    try:
        with affinity(cores.servers):
            ceiling_port = gunicorn_start(box, args.http_workers, settings_module="bench.settings_trivial")
            assert box.gunicorn is not None
            servers.append(box.gunicorn)
            port = gunicorn_start(box, args.http_workers, settings_module="bench.settings_bench")
            assert box.gunicorn is not None
            servers.append(box.gunicorn)
        ceilings = [_measure(CEILING, ceiling_port, "/", args, cores, host="localhost")]
        baselines = {name: _measure(name, port, path, args, cores) for name, path in BASELINES}
        # --http-page: those paths only (the list's name when it has one; `{day}` is the application day).
        chosen = (
            [({p: n for n, p in PAGES}.get(path, f"`{path}`"), path) for path in args.http_page]
            if args.http_page
            else PAGES
        )
        pages = {
            name: _measure(name, port, path.format(day=setup.application_day), args, cores)
            for name, path in chosen
        }
        flows = {}
        if not args.http_page:
            flows = {
                "resident flow, application support (no card)": _flow(
                    "application", port, APPLICATION, setup.application_day, setup, args, cores
                ),
                "resident flow, pickup (generated cards)": _flow(
                    "pickup", port, PICKUP, setup.pickup_day, setup, args, cores
                ),
            }
        ceilings.append(_measure(CEILING + " (again)", ceiling_port, "/", args, cores, host="localhost"))
    finally:
        for server in servers:
            if server.poll() is None:
                server.terminate()
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
    settings = {
        "generator": (
            f"wrk {_wrk_version()}: `-t{args.http_threads} -c{args.http_connections} -d{args.http_duration}s "
            "--latency`, keep-alive (the sync workers close each connection), after a warm-up per URL (a few requests, then 1 s of wrk)"
        ),
        "flows": (
            f"`-t{args.http_connections} -c{args.http_connections} -d{args.http_duration}s -s bench/wrk/flow.lua`: "
            "one connection per thread, a new resident (cookies) per flow"
        ),
        "servers": (
            f"gunicorn, {args.http_workers} sync workers each, 127.0.0.1; DEBUG off, no Redis (database cache), "
            "MADOGUCHI_BENCH_LIMITS=true"
        ),
        "cores": cores.describe(),
        "city": f"`{HOST}` (demo data of `make run`)",
    }
    return HttpResult(
        settings=settings,
        ceilings=[c.rps for c in ceilings if not c.failed],
        baselines=baselines,
        pages=pages,
        flows=flows,
        setup=setup,
        cores=cores,
    )


def _wrk_version() -> str:
    try:
        done = subprocess.run([WRK, "-v"], capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "(not found)"
    match = re.search(r"wrk (\S+)", done.stdout + done.stderr)
    return match.group(1) if match else "(unknown version)"


# --- the section ------------------------------------------------------------------------------------------------


# Issue 12, item 5: each a ratio to the trivial view in the same run.
TARGETS: dict[str, float] = {
    "month calendar `/book/pickup/`": 0.5,
    "month calendar `/book/application/`": 0.5,
    "day page `/book/application/<day>/`": 0.3,
    "city top `/`": 0.4,
    "purposes `/book/`": 0.4,
    "resident flow, application support (no card)": 0.2,
    "resident flow, pickup (generated cards)": 0.2,
}


def _ms(value: float) -> str:
    return "—" if value != value else f"{value:.1f}"  # nan → —


def _notes(result: WrkResult, ceiling: float) -> str:
    notes = []
    if result.failed:
        notes.append(f"wrk failed: {result.failed}")
    if ceiling > 0 and result.rps > ceiling / 2:
        notes.append("**client-bound** (above half the ceiling)")
    if result.non_2xx_3xx:
        notes.append(f"{result.non_2xx_3xx} non-2xx/3xx")
    if errors := {k: v for k, v in result.socket_errors.items() if v}:
        notes.append("socket errors " + ", ".join(f"{k} {v}" for k, v in errors.items()))
    return "; ".join(notes)


def target_rows(result: HttpResult) -> list[list[str]]:
    """Issue 12 item 5's table: page, requests/s, ratio to the ceiling, target, met?, p50/p99, notes."""
    ceiling = result.ceiling
    rows = []
    for name, measured in [*result.pages.items(), *result.flows.items()]:
        target = TARGETS.get(name)
        share = measured.rps / ceiling if ceiling > 0 else float("nan")
        met = "—" if target is None or share != share else ("yes" if share >= target else "**no**")
        rows.append(
            [
                name,
                f"{measured.rps:,.0f}",
                f"{share:.2f}×" if share == share else "n/a",
                f"≥ {target}×" if target is not None else "—",
                met,
                f"{_ms(measured.p50_ms)} / {_ms(measured.p99_ms)}",
                _notes(measured, ceiling),
            ]
        )
    return rows


def http_section(result: HttpResult, text: str, header: str = "") -> list[str]:
    ceiling = result.ceiling
    lines = [
        HEADING + ": resident pages and the resident flow through wrk, against the generator's ceiling",
        "",
        *([header, ""] if header else []),
        "Each figure is requests per second and its ratio to **the ceiling**: a bare Django app (two middleware, no "
        "database, `bench/settings_trivial.py`) served by the same gunicorn settings and driven by the same wrk "
        "settings in the same run, at the start and at the end (the higher is used). A page above half the ceiling "
        "is flagged client-bound. Targets are issue 12's, item 5. Latency p50 / p99 is wrk's, per request. "
        "How to read and re-run: docs/performance.md.",
        "",
        *table(["setting", "value"], [[k, v] for k, v in result.settings.items()]),
        "",
        "Ceiling: " + (" and ".join(f"{c:,.0f}" for c in result.ceilings) or "not measured") + " requests/s.",
        "",
        *table(
            ["page", "requests/s", "vs ceiling", "target", "met?", "p50 / p99 ms", "notes"],
            target_rows(result),
        ),
        "",
        "Not measured by this part: holds on contested slots vs the lock-and-update rate (target ≥ 0.5×; issue 12 "
        "item 4, section 4 measures the rush) and tenant routing's share of a page (≤ 10 %; the profile of item 6).",
        "",
        "Baselines on the project's server (same workers, same database, `bench/urls_bench.py`):",
        "",
        *table(
            ["baseline", "requests/s", "vs ceiling", "p50 / p99 ms", "notes"],
            [
                [
                    name,
                    f"{measured.rps:,.0f}",
                    f"{measured.rps / ceiling:.2f}×" if ceiling > 0 else "n/a",
                    f"{_ms(measured.p50_ms)} / {_ms(measured.p99_ms)}",
                    _notes(measured, ceiling),
                ]
                for name, measured in result.baselines.items()
            ],
        ),
    ]
    if result.flows:
        rows = []
        for name, measured in result.flows.items():
            flows = measured.flows
            completed = int(flows.get("completed", 0))
            failures = ", ".join(
                f"{key.removeprefix('fail.')} {value}"
                for key, value in sorted(flows.items())
                if key.startswith("fail.")
            )
            rows.append(
                [
                    name,
                    str(completed),
                    f"{completed / measured.seconds:.1f}" if measured.seconds else "n/a",
                    f"{measured.rps:,.0f}",
                    failures or "none",
                ]
            )
        lines += [
            "",
            "The flows (bench/wrk/flow.lua): day page → hold (POST) → hold form → confirmation (POST) → done page, "
            f"a new resident each time; the days are {result.setup.application_day} (application support) and "
            f"{result.setup.pickup_day} (pickup, {result.setup.cards} generated cards), their slots widened to "
            f"{FLOW_SEATS:,} seats so that the flow measures requests, not a full day:",
            "",
            *table(["flow", "completed", "flows/s", "requests/s", "failed steps (step.status)"], rows),
        ]
    if text:
        lines += ["", text]
    lines += [
        "",
        "The machine is shared while it runs (other processes, the embedded PostgreSQL unpinned): compare ratios "
        "within one run, and re-run on a quiet machine before believing a change under ~20 %.",
        "",
    ]
    return lines
