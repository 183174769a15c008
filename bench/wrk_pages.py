"""Section 6 of `make bench` (part `http`): resident pages, the resident flow and contested slots through `wrk`,
each a ratio to the generator's ceiling measured in the same run (issue 12, items 1, 4, 5 and 6).

The Python clients of sections 3 and 4 top out near 740 requests/s, so they cannot tell a fast page from a slow
one. Here Debian's `wrk` (C, epoll) drives the servers. The part is split along its seams:

- bench/wrk_run.py: wrk itself (where it is, the cores, the command, one run, the output parser);
- bench/wrk_setup.py: the city (demo data of `make run`, ageo measured; the flows' days, cards, contested days);
- this module: the servers (the ceiling's bare app, bench/settings_trivial.py; the project with
  bench/settings_bench.py and the baselines of bench/urls_bench.py), the pages, the flows (bench/wrk/flow.lua);
- bench/wrk_contested.py: holds and confirmations on a day of 15 slots × 4 seats (item 4, bench/wrk/contested.lua);
- bench/profiler.py: cProfile of each page that misses its target, in this process after the servers stop (item 6);
- bench/wrk_report.py: the section, with item 5's targets.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from http.client import HTTPException

from bench.common import Sandbox, gunicorn_start, gunicorn_stop, http_get, log
from bench.profiler import Profile, profile_pages
from bench.wrk_api import API_AVAILABILITY, ApiResult, api_setup, bench_api
from bench.wrk_contested import ContestedResult, bench_contested
from bench.wrk_report import HEADING, TARGETS, HttpResult
from bench.wrk_run import (
    WRK_MISSING,
    Cores,
    WrkResult,
    affinity,
    choose_cores,
    wrk_command,
    wrk_path,
    wrk_run,
    wrk_version,
)
from bench.wrk_setup import APPLICATION, HOST, PICKUP, SCRIPTS_DIR, HttpSetup, http_setup

__all__ = ["HEADING", "bench_http"]
CEILING = "ceiling: trivial view, bare app"


def _measure(
    name: str,
    port: int,
    path: str,
    args: argparse.Namespace,
    cores: Cores,
    *,
    host: str = HOST,
    headers: Sequence[str] = (),
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
            headers=headers,
        )

    # Warm-up: the workers' first requests import and fill caches (a second each, more on a busy machine).
    if not headers:
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
        script=SCRIPTS_DIR / "flow.lua",
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


def _stop(servers: list[subprocess.Popen[bytes]]) -> None:
    for server in servers:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


def _profiles(pages: dict[str, str], args: argparse.Namespace) -> dict[str, Profile]:
    """cProfile of each page with a target (item 6), in this process, warm: what bounds a miss, and tenant routing's
    share of every page (item 5). The servers are stopped first, so nothing competes for the CPUs."""
    if args.http_profile_requests <= 0:
        return {}
    with_target = {name: path for name, path in pages.items() if name in TARGETS}
    return profile_pages(HOST, with_target, args.http_profile_requests, "http")


@contextmanager
def _redis_for_servers(url: str | None) -> Iterator[None]:
    """With `url`, the servers started inside get it as REDIS_URL (cache and broker), on a flushed database."""
    if not url:
        yield
        return
    import redis

    redis.Redis.from_url(url).flushdb()
    os.environ["REDIS_URL"] = url
    try:
        yield
    finally:
        os.environ.pop("REDIS_URL", None)


def bench_http(box: Sandbox, args: argparse.Namespace) -> HttpResult:
    from django.db import connection

    runs = args.contested_runs + 1 if not args.http_page and args.contested_runs > 0 else 0  # + a warm-up
    setup = http_setup(box, args.http_cards, runs)
    api = api_setup(box, setup, runs) if not args.http_page else None
    connection.close()
    gunicorn_stop(box)  # a server an earlier part left running
    cores = choose_cores(args.http_pin)
    log(f"http: cores: {cores.describe()}", "http")
    if wrk_path() is None:
        log(f"NOTICE: {WRK_MISSING}: every wrk row of the report says so", "http")
    # --http-page: those paths only (the list's name when it has one; `{day}` is the application day).
    chosen = (
        [({p: n for n, p in PAGES}.get(path, f"`{path}`"), path) for path in args.http_page]
        if args.http_page
        else PAGES
    )
    paths = {name: path.format(day=setup.application_day) for name, path in chosen}
    servers: list[subprocess.Popen[bytes]] = []
    contested: ContestedResult | None = None
    api_result: ApiResult | None = None
    try:
        with affinity(cores.servers):
            ceiling_port = gunicorn_start(box, args.http_workers, settings_module="bench.settings_trivial")
            assert box.gunicorn is not None
            servers.append(box.gunicorn)
            with _redis_for_servers(args.http_redis):
                port = gunicorn_start(box, args.http_workers, settings_module="bench.settings_bench")
            assert box.gunicorn is not None
            servers.append(box.gunicorn)
        ceilings = [_measure(CEILING, ceiling_port, "/", args, cores, host="localhost")]
        baselines = {name: _measure(name, port, path, args, cores) for name, path in BASELINES}
        pages = {name: _measure(name, port, path, args, cores) for name, path in paths.items()}
        flows: dict[str, WrkResult] = {}
        if not args.http_page:
            # Before the flows: their residents then never meet a contested day's person (item 4).
            contested = bench_contested(port, ceiling_port, setup, args, cores)
            if api is not None:

                def measure(name: str, port_: int, path: str, headers: Sequence[str]) -> WrkResult:
                    return _measure(name, port_, path, args, cores, headers=headers)

                api_result = bench_api(port, api, setup.schema, args, cores, measure=measure)
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
        _stop(servers)
        if args.http_redis:
            import redis

            redis.Redis.from_url(args.http_redis).flushdb()  # the pages and the queued mails of the run
    profiles = _profiles(paths, args)
    if api_result is not None and args.http_profile_requests > 0:
        # The API's availability, always: its target is against the trivial view, not the ceiling.
        availability = {API_AVAILABILITY: api_result.availability_path}
        profiles.update(profile_pages(HOST, availability, args.http_profile_requests, "http"))
    return HttpResult(
        settings=_settings(args, cores),
        ceilings=[c.rps for c in ceilings if not c.failed],
        baselines=baselines,
        pages=pages,
        flows=flows,
        setup=setup,
        cores=cores,
        contested=contested,
        api=api_result,
        profiles=profiles,
    )


def _settings(args: argparse.Namespace, cores: Cores) -> dict[str, str]:
    return {
        "generator": (
            f"wrk {wrk_version()}: `-t{args.http_threads} -c{args.http_connections} -d{args.http_duration}s "
            "--latency`, keep-alive (the sync workers close each connection), after a warm-up per URL (a few "
            "requests, then 1 s of wrk)"
        ),
        "flows": (
            f"`-t{args.http_connections} -c{args.http_connections} -d{args.http_duration}s -s bench/wrk/flow.lua`: "
            "one connection per thread, a new resident (cookies) per flow"
        ),
        "servers": (
            f"gunicorn, {args.http_workers} sync workers each, 127.0.0.1; DEBUG off, "
            + (
                "Redis as cache and broker (`--http-redis`) for the project's server"
                if args.http_redis
                else "no Redis (database cache)"
            )
            + ", MADOGUCHI_BENCH_LIMITS=true"
        ),
        "cores": cores.describe(),
        "city": f"`{HOST}` (demo data of `make run`)",
        "profiles": f"{args.http_profile_requests} requests per page with a target, cProfile, test client, warm",
    }
