"""The report's section 8 (part `nginx`, bench/nginx_rush.py): the rush's figures, its targets on this machine (0
errors, 0 overbookings, p99 < 1 s, the residents within a minute) met or missed, and what bounds it, named from the
CPU each component used during the rush."""

from __future__ import annotations

import argparse

from bench.common import cpu_count, load_text, ratio, table
from bench.nginx_setup import SECTION, NginxRushResult
from bench.wrk_run import WrkResult, wrk_version

HEADING = "## 8. Slot-release rush through nginx"
TARGET_P99_MS = 1000.0
TARGET_SECONDS = 60.0  # 5,000 residents within a minute


def unexpected_errors(result: WrkResult, expected: int = 0) -> int:
    """Errors beside the expected "just taken" answers: non-2xx/3xx minus `expected`, plus socket errors."""
    return max(0, result.non_2xx_3xx - expected) + sum(result.socket_errors.values())


def latency_ms(result: WrkResult, q: int) -> float:
    value = result.flows.get(f"p{q}_us")
    return value / 1000 if isinstance(value, int | float) else float("nan")


def _latency(result: WrkResult) -> str:
    return f"{latency_ms(result, 50):.1f} / {latency_ms(result, 95):.1f} / {latency_ms(result, 99):.1f}"


def _socket(result: WrkResult) -> str:
    errors = {k: v for k, v in result.socket_errors.items() if v}
    return ", ".join(f"{k} {v}" for k, v in errors.items()) or "0"


def _fails(result: WrkResult) -> str:
    return result.failures() or "none"


def targets(result: NginxRushResult) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for issue 14, item 5's targets on this machine."""
    rush, browse = result.rush, result.browse
    taken = int(rush.flows.get("hold_taken", 0))
    errors = unexpected_errors(rush, taken) + unexpected_errors(browse)
    p99 = max(latency_ms(rush, 99), latency_ms(browse, 99))
    return [
        (
            f"{result.residents:,} residents within {TARGET_SECONDS:.0f} s",
            f"{result.rush_seconds:.1f} s" + ("" if result.finished else " (stopped at the cap, unfinished)"),
            result.finished and result.rush_seconds <= TARGET_SECONDS,
        ),
        ("0 errors", str(errors), errors == 0),
        ("0 overbookings", str(result.check.overbooked), result.check.overbooked == 0),
        ("p99 < 1 s (residents and browsing)", f"{p99:,.0f} ms", p99 < TARGET_P99_MS),
    ]


def capacity(result: NginxRushResult) -> dict[str, float]:
    """The rush's CPU cost per answered request (ms, nginx + gunicorn + PostgreSQL, not wrk), what the machine's
    CPUs could answer at that cost, and the residents per minute that makes at the rush's requests per resident."""
    served = result.rush.requests + result.browse.requests
    residents = int(result.rush.flows.get("residents", 0))
    server_cpu = sum(result.cpu.get(name, 0.0) for name in ("nginx", "gunicorn", "postgres"))
    if not served or not server_cpu or not residents:
        return {}
    ms = 1000 * server_cpu / served
    max_rps = cpu_count() * 1000 / ms
    per_resident = result.rush.requests / residents
    return {
        "ms_per_request": ms,
        "gunicorn_ms": 1000 * result.cpu.get("gunicorn", 0.0) / served,
        "postgres_ms": 1000 * result.cpu.get("postgres", 0.0) / served,
        "nginx_ms": 1000 * result.cpu.get("nginx", 0.0) / served,
        "max_rps": max_rps,
        "per_resident": per_resident,
        "residents_per_minute": 60 * max_rps / per_resident,
    }


def bound(result: NginxRushResult) -> str:
    """What bounds the rush: the CPU each component used while it ran, the cost per request and the capacity it
    gives, the queue the closed loop builds (Little's law), and the baselines of the same run."""
    wall = result.rush_seconds
    cpus = cpu_count()
    used = sum(result.cpu.values())
    shares = sorted(((v, k) for k, v in result.cpu.items() if v > 0), reverse=True)
    names = {"other": "other work on the machine"}
    parts = [
        f"the machine's CPUs were {min(1.0, used / (cpus * wall)):.0%} busy during the rush ({used:,.0f} CPU-seconds of "
        f"{cpus * wall:,.0f}: "
        + ", ".join(
            f"{names.get(name, name)}"
            + (f" ({result.processes[name]} processes)" if result.processes.get(name) else "")
            + f" {seconds / used:.0%}"
            for seconds, name in shares
        )
        + ")"
        if wall and used
        else "no CPU figures"
    ]
    if cap := capacity(result):
        parts.append(
            f"each answered request cost {cap['ms_per_request']:.1f} ms of CPU (gunicorn {cap['gunicorn_ms']:.1f}, "
            f"PostgreSQL {cap['postgres_ms']:.1f}, nginx {cap['nginx_ms']:.1f}), so {cpus} CPUs serve at most "
            f"~{cap['max_rps']:,.0f} requests/s at this mix, ~{cap['residents_per_minute']:,.0f} residents a minute "
            f"at {cap['per_resident']:.1f} requests each, with nothing else running"
        )
    answered = result.rush.rps + result.browse.rps
    if answered:
        queue = result.connections + result.browsers
        parts.append(
            f"{queue} connections in a closed loop at {answered:,.0f} requests/s wait {1000 * queue / answered:,.0f} "
            "ms per request on average (Little's law): the latency is the queue of requests ahead on the CPUs, so "
            "fewer residents at once or more CPUs, not a faster nginx, move the p99"
        )
    trivial = max((t.rps for t in result.trivial), default=0.0)
    if trivial:
        parts.append(
            f"the rush's {answered:,.0f} requests/s are {ratio(answered, trivial)} the trivial view's "
            f"{trivial:,.0f}/s through the same nginx"
        )
    if result.ceiling.rps:
        parts.append(
            f"nginx alone answers {result.ceiling.rps:,.0f}/s over the same TLS, so neither wrk nor nginx is the bound"
        )
    return "; ".join(parts) + "."


def nginx_section(result: NginxRushResult, args: argparse.Namespace, header: str = "") -> list[str]:
    out = [HEADING, "", *([header, ""] if header else [])]
    if result.skipped or result.setup is None:
        return [*out, f"Not measured: {result.skipped or 'no setup'}.", ""]
    setup = result.setup
    rush, browse = result.rush, result.browse
    taken = int(rush.flows.get("hold_taken", 0))
    flows = int(rush.flows.get("residents", 0))
    trivial_before = result.trivial[0] if result.trivial else WrkResult()
    trivial_after = result.trivial[-1] if len(result.trivial) > 1 else WrkResult()
    trivial_rps = max(trivial_before.rps, trivial_after.rps)
    busiest = max(result.loads, default=0.0)
    out += [
        f"{result.residents:,} residents of one city (`{setup.rush_host}`) after its release month {setup.month} "
        f"({setup.slots} slots on {len(setup.days)} days × {setup.seats_per_slot} seats = **{setup.seats:,} seats**), "
        f"while {len(setup.browse_hosts)} other cities are browsed, through a real nginx ({result.nginx_version}) "
        "over https. wrk "
        f"{wrk_version()}, one connection per thread (the Lua state is per thread): **{result.connections} "
        f"residents at once** (`bench/wrk/rush.lua`: each connection one resident after another, a new cookie jar "
        "each: top page → month calendar → a day the calendar shows bookable → hold (POST) on a random free time, "
        '"just taken" (409) → the next free time of the page, none left → the calendar again, three days and eight '
        f"holds at most (the app allows a session ten holds in ten minutes) → hold form → confirmation (POST)), and **{result.browsers} browsing connections** "
        f"(`bench/wrk/browse.lua`: the {len(setup.browse_hosts)} cities' top pages and month calendars in turn, the Host header rotating "
        "per request) until the last resident is done. wrk keeps each connection alive; no think time (a closed "
        "loop: each connection sends its next request when the answer comes).",
        "",
        *table(
            ["setting", "value"],
            [
                [
                    "nginx",
                    f"{result.nginx_version}, production's config: the server blocks of `manage.py nginx_sites` "
                    "(`madoguchi.nginx.render` on the Domain table: one wildcard server for `localhost` and "
                    "`*.localhost`, TLS 1.2/1.3, HSTS, proxy headers, HTTP/1.1 keep-alive to the upstream "
                    "(`keepalive 32`), masked access log) and its standalone main config (`worker_processes 2`), "
                    "on free ports of 127.0.0.1 with a self-signed EC certificate the bench generates, no OCSP "
                    "stapling; plus a bench-only server answering `return 200` (the ceiling)",
                ],
                [
                    "rate limits",
                    "nginx's per-address `limit_req` zones (production: pages 50 r/s burst 200, logins 30 r/m) "
                    "raised to 100,000 r/s for the bench, since every client is 127.0.0.1, as "
                    "`MADOGUCHI_BENCH_LIMITS=true` raises the app's own; both still consulted on every request",
                ],
                [
                    "app",
                    f"gunicorn with `ops/gunicorn.conf.py` (gthread) `-w {result.workers} --threads "
                    f"{result.threads} --max-requests 0`, `bench.settings_bench`, `MADOGUCHI_TRUSTED_PROXIES="
                    "127.0.0.1/32` (the client address from X-Forwarded-For), cache in the database (no Redis), "
                    "the bench's own PostgreSQL",
                ],
                [
                    "baselines",
                    f"the same wrk settings (`-t{result.connections} -c{result.connections} "
                    f"-d{args.nginx_baseline_seconds}s`) after a warm-up (2 s rounds of wrk until one answers within a second): nginx's own `return 200` on a second "
                    "TLS port (the generator's ceiling), the trivial view `/bench/trivial/` (every middleware) on "
                    "gunicorn directly and through nginx before and after the rush",
                ],
                ["machine", f"{cpu_count()} CPUs, nothing pinned; load average (1 min) up to {busiest:.1f}"],
            ],
        ),
        "",
        load_text(SECTION),
        "",
        "| | requests/s | p50 / p95 / p99 ms | errors | notes |",
        "|---|---|---|---|---|",
        f"| **rush: residents** | {rush.rps:,.0f} | {_latency(rush)} | "
        f"{unexpected_errors(rush, taken)} (socket: {_socket(rush)}) | {rush.requests:,} requests, "
        f'{taken:,} expected 409 "just taken"; failed steps: {_fails(rush)} |',
        f"| **rush: {len(setup.browse_hosts)} cities browsing** | {browse.rps:,.0f} | {_latency(browse)} | "
        f"{unexpected_errors(browse)} (socket: {_socket(browse)}) | {browse.requests:,} requests |",
        f"| trivial view through nginx, before | {trivial_before.rps:,.0f} | {_latency(trivial_before)} | "
        f"{unexpected_errors(trivial_before)} | the baseline |",
        f"| trivial view through nginx, after | {trivial_after.rps:,.0f} | {_latency(trivial_after)} | "
        f"{unexpected_errors(trivial_after)} | |",
        f"| trivial view on gunicorn, no nginx | {result.trivial_direct.rps:,.0f} | "
        f"{_latency(result.trivial_direct)} | {unexpected_errors(result.trivial_direct)} | nginx + TLS cost: "
        f"{ratio(trivial_rps, result.trivial_direct.rps)} |",
        f"| ceiling: nginx `return 200` | {result.ceiling.rps:,.0f} | {_latency(result.ceiling)} | "
        f"{unexpected_errors(result.ceiling)} | wrk + TLS + nginx without the app |",
        "",
        f"Residents: **{flows:,} finished in {result.rush_seconds:.1f} s** "
        f"({'all of them' if result.finished else f'**stopped at the {result.limit:.0f} s cap**'}): "
        f"{flows / result.rush_seconds if result.rush_seconds else 0:,.1f} residents/s, booked "
        f"{int(rush.flows.get('booked', 0)):,}, sold out (the calendar showed no bookable day) "
        f"{int(rush.flows.get('soldout', 0)):,}, gave up (three days or eight holds without a hold, or a failed step) "
        f"{int(rush.flows.get('gave_up', 0)):,}; holds {int(rush.flows.get('holds', 0)):,} "
        f'({int(rush.flows.get("held", 0)):,} held, {taken:,} "just taken"), confirmations '
        f"{int(rush.flows.get('confirms', 0)):,}. Whole traffic "
        f"{rush.rps + browse.rps:,.0f} requests/s: {ratio(rush.rps + browse.rps, trivial_rps)} the trivial view "
        "through the same nginx; the residents' p99 is "
        f"{ratio(latency_ms(rush, 99), latency_ms(trivial_before, 99))} the trivial view's at the same concurrency. wrk's "
        "latencies are per request, from its send to the answer (no per-step clock in wrk's Lua), and a closed "
        "loop hides the queueing a real open arrival would add (coordinated omission).",
        "",
        f"**Overbookings: {result.check.overbooked}** (SQL after the run over the {result.check.slots} slots of "
        f"{setup.month}: seats over capacity {result.check.over}, slots where taken ≠ booked + held "
        f"{result.check.mismatched}); booked in the database {result.check.booked:,} of {result.check.seats:,} "
        f"seats, {result.check.held} held (holds whose resident was stopped mid-flow). Exceptions the app logged: "
        + ("; ".join(f"`{e}`" for e in result.app_errors) if result.app_errors else "none")
        + ".",
        "",
        "Targets (issue 14, item 5, on this machine):",
        "",
        *table(
            ["target", "measured", "met?"],
            [[name, value, "yes" if met else "**no**"] for name, value, met in targets(result)],
        ),
        "",
    ]
    if not all(met for _, _, met in targets(result)):
        out += [f"What bounds it: {bound(result)}", ""]
        if result.profiles:
            from bench.wrk_report import profile_excerpt

            out += [
                "Where the app's time goes (cProfile of the residents' GET pages after the rush, in the bench's "
                "process through the test client, warm; `make profile PAGE=...` prints more):",
                "",
            ]
            for name, profile in result.profiles.items():
                out += profile_excerpt(name, profile, limit=6)
    else:
        out += [f"Where the time went: {bound(result)}", ""]
    return out
