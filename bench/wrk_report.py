"""Section 6 of bench/report.md (part `http`): the settings, the ceiling, the pages, the baselines, the flows, the
contested slots (item 4) and issue 12 item 5's targets, each met or its miss explained by a profile (item 6)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bench.common import table
from bench.profiler import ROUTING, SQL, TEMPLATES, Profile, breakdown, top
from bench.wrk_api import API_AVAILABILITY, ApiResult, api_lines, api_target_rows
from bench.wrk_contested import ContestedResult, contested_figures, contested_lines
from bench.wrk_run import Cores, WrkResult
from bench.wrk_setup import FLOW_SEATS, HttpSetup

HEADING = "## 6. HTTP throughput"
CONTESTED_TARGET = 0.5  # holds on contested slots ≥ 0.5× the lock-and-update rate
ROUTING_TARGET = 0.10  # tenant routing ≤ 10 % of a page

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


@dataclass
class HttpResult:
    settings: dict[str, str]
    ceilings: list[float]
    baselines: dict[str, WrkResult]
    pages: dict[str, WrkResult]
    flows: dict[str, WrkResult]
    setup: HttpSetup
    cores: Cores
    contested: ContestedResult | None = None
    api: ApiResult | None = None
    profiles: dict[str, Profile] = field(default_factory=dict)  # page name → its profile (item 6)

    @property
    def ceiling(self) -> float:
        return max(self.ceilings, default=0.0)

    def share(self, name: str) -> float:
        measured = {**self.pages, **self.flows}.get(name)
        if measured is None or self.ceiling <= 0 or measured.failed:
            return float("nan")
        return measured.rps / self.ceiling


def _ms(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.1f}"


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


def _met(value: float, target: float, *, at_most: bool = False) -> str:
    if math.isnan(value):
        return "—"
    return "yes" if (value <= target if at_most else value >= target) else "**no**"


def target_rows(result: HttpResult) -> list[list[str]]:
    """Every page and flow: page, requests/s, ratio to the ceiling, target, met?, p50/p99, notes."""
    rows = []
    for name, measured in [*result.pages.items(), *result.flows.items()]:
        target = TARGETS.get(name)
        share = result.share(name)
        rows.append(
            [
                name,
                f"{measured.rps:,.0f}",
                "n/a" if math.isnan(share) else f"{share:.2f}×",
                f"≥ {target}×" if target is not None else "—",
                "—" if target is None else _met(share, target),
                f"{_ms(measured.p50_ms)} / {_ms(measured.p99_ms)}",
                _notes(measured, result.ceiling),
            ]
        )
    return rows


def _routing(result: HttpResult) -> tuple[float, str]:
    """The largest tenant-routing share over the profiled pages, and each one."""
    shares = {name: profile.share(ROUTING) for name, profile in result.profiles.items()}
    if not shares:
        return float("nan"), "not profiled"
    return max(shares.values()), ", ".join(f"{name} {share:.0%}" for name, share in shares.items())


def _contested_row(result: HttpResult) -> list[str]:
    label = "holds + confirmations on contested slots, vs lock + update one row"
    if result.contested is None or result.contested.skipped or not result.contested.runs:
        why = result.contested.skipped if result.contested else "not run"
        return [label, why, "n/a", f"≥ {CONTESTED_TARGET}×", "—"]
    figures = contested_figures(result.contested)
    return [
        label,
        f"{figures['writes']:,.0f} writes/s",
        f"{figures['vs_lock']:.2f}×",
        f"≥ {CONTESTED_TARGET}×",
        _met(figures["vs_lock"], CONTESTED_TARGET),
    ]


def summary_rows(result: HttpResult) -> list[list[str]]:
    """Issue 12 item 5, one row per target: target, measured, ratio, wanted, met?"""
    rows = []
    for name, target in TARGETS.items():
        measured = {**result.pages, **result.flows}.get(name)
        if measured is None:
            continue
        share = result.share(name)
        per = " (every step)" if name.startswith("resident flow") else ""
        rows.append(
            [
                name,
                f"{measured.rps:,.0f} requests/s{per}" if not measured.failed else measured.failed[:60],
                "n/a" if math.isnan(share) else f"{share:.2f}×",
                f"≥ {target}×",
                _met(share, target),
            ]
        )
    routing, each = _routing(result)
    rows.append(
        [
            "tenant routing's share of a page (profile: `MunicipalityMiddleware.process_request`)",
            each,
            "n/a" if math.isnan(routing) else f"{routing:.0%} (largest)",
            f"≤ {ROUTING_TARGET:.0%}",
            _met(routing, ROUTING_TARGET, at_most=True),
        ]
    )
    rows.append(_contested_row(result))
    if result.api is not None:
        rows += api_target_rows(
            result.api, trivial=result.baselines.get(TRIVIAL), lock_audit=_lock_audit(result)
        )
    return rows


TRIVIAL = "trivial view, every middleware"


def _lock_audit(result: HttpResult) -> WrkResult | None:
    """The audited lock-and-update at the contested runs' settings (many connections), else the pages' one."""
    if result.contested is not None and "lock + update + one audit row" in result.contested.baselines:
        return result.contested.baselines["lock + update + one audit row"]
    return result.baselines.get("lock + update + one audit row")


def _server_floor(result: HttpResult) -> str:
    """What the project's server reaches before any page: a page cannot beat these, whatever it does."""
    healthz = result.pages.get("/healthz (no tenant routing)")
    trivial = result.baselines.get("trivial view, every middleware")
    if result.ceiling <= 0 or healthz is None or trivial is None or healthz.failed or trivial.failed:
        return ""
    return (
        f"Before any page, the project's server reaches {healthz.rps / result.ceiling:.2f}× the ceiling on "
        f"`/healthz` (no tenant routing, no database) and {trivial.rps / result.ceiling:.2f}× with the trivial view "
        "through every middleware: the same gunicorn and wrk as the bare app, so the difference is the project's "
        "own stack (its middleware, WSGI application, logging). A target above these ratios cannot be met by the "
        "page alone."
    )


def what_would_move_it(profile: Profile) -> str:
    """A reading of the profile: which part dominates, and the issue's item that removes it."""
    routing, sql, templates = (profile.share(part) for part in (ROUTING, SQL, TEMPLATES))
    rest = max(0.0, 1 - routing - sql - templates)
    moves = []
    if profile.queries > 2:
        moves.append(
            f"{profile.queries:g} SQL statements per request ({sql:.0%} of the time; the database cache counts too): "
            "a warm page should run no ORM query and at most one cache round trip (item 2)"
        )
    elif profile.queries:
        moves.append(
            f"{profile.queries:g} SQL statements per request ({sql:.0%} of the time): the one cache read, on the "
            "database cache a `SET search_path` (django-tenants, before every statement while "
            "`TENANT_LIMIT_SET_CALLS` is off) and the `SELECT` on the cache table; a cache that is not SQL (Redis) "
            "or setting the path once per connection would leave one round trip or none to PostgreSQL"
        )
    if routing > ROUTING_TARGET:
        moves.append(f"tenant routing is {routing:.0%}: host → city from a process-local map (item 2)")
    if templates > 0.3:
        moves.append(
            f"template rendering is {templates:.0%}: serve the rendered page from the cache (item 3)"
        )
    if rest > 0.4:
        moves.append(
            f"{rest:.0%} is neither SQL, routing nor templates: the middleware and Python around the page (the "
            "functions above), so fewer layers before the cached answer, or less work in each"
        )
    return "; ".join(moves) or "no single part dominates: see the functions above"


def profile_excerpt(name: str, profile: Profile, limit: int = 8) -> list[str]:
    total = profile.total
    # The middleware chain's wrappers each cover most of the request: left out, they say nothing.
    rows = top(
        profile.raw, by="cumulative", limit=limit, skip=lambda key, cum: total > 0 and cum >= 0.8 * total
    )
    own = top(profile.raw, by="own", limit=5)
    return [
        f"**{name}**: {profile.requests} requests of `{profile.page}` through the test client, "
        f"{1000 * total / profile.requests:.2f} ms each under cProfile, {profile.queries:g} SQL queries per request "
        f"(`make profile PAGE={profile.page}` shows the whole profile).",
        "",
        *table(["part of the request", "share", "ms per request"], breakdown(profile)),
        "",
        *table(
            [
                "calls",
                "own s",
                "cumulative s",
                "function (top by cumulative time, below 80 % of the request)",
            ],
            rows,
        ),
        "",
        *table(["calls", "own s", "cumulative s", "function (top by own time)"], own),
        "",
        "What would move it: " + what_would_move_it(profile) + ".",
        "",
    ]


def _flow_lines(result: HttpResult) -> list[str]:
    rows = []
    for name, measured in result.flows.items():
        flows = measured.flows
        completed = int(flows.get("completed", 0))
        failures = measured.failures()
        rows.append(
            [
                name,
                str(completed),
                f"{completed / measured.seconds:.1f}" if measured.seconds else "n/a",
                f"{measured.rps:,.0f}",
                failures or measured.failed[:80] or "none",
            ]
        )
    return [
        "The flows (bench/wrk/flow.lua): day page → hold (POST) → hold form → confirmation (POST) → done page, "
        f"a new resident each time; the days are {result.setup.application_day} (application support) and "
        f"{result.setup.pickup_day} (pickup, {result.setup.cards} generated cards), their slots widened to "
        f"{FLOW_SEATS:,} seats so that the flow measures requests, not a full day:",
        "",
        *table(["flow", "completed", "flows/s", "requests/s", "failed steps (step.status)"], rows),
    ]


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
        lines += ["", *_flow_lines(result)]
    if result.contested is not None:
        lines += ["", *contested_lines(result.contested, CONTESTED_TARGET)]
    if result.api is not None:
        lines += [
            "",
            *api_lines(
                result.api,
                ceiling=ceiling,
                trivial=result.baselines.get(TRIVIAL),
                lock_audit=_lock_audit(result),
                one_query=result.baselines.get("one query (`SELECT 1`)"),
            ),
        ]
    lines += [
        "",
        "### Targets (issue 12, item 5; the API's: issue 13, item 6)",
        "",
        *table(["target", "measured", "ratio", "wanted", "met?"], summary_rows(result)),
        "",
    ]
    floor = _server_floor(result)
    if floor:
        lines += [floor, ""]
    missed = [
        name
        for name in result.profiles
        if name == API_AVAILABILITY or _met(result.share(name), TARGETS.get(name, 0.0)) != "yes"
    ]
    if missed:
        lines += ["What bounds each page that misses its target (cProfile in the bench's process, warm):", ""]
        for name in missed:
            lines += profile_excerpt(name, result.profiles[name])
    if text:
        lines += [text, ""]
    lines += [
        "The machine is shared while it runs (other processes, the embedded PostgreSQL unpinned): compare ratios "
        "within one run, and re-run on a quiet machine before believing a change under ~20 %.",
        "",
    ]
    return lines
