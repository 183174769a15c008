"""Part `nginx` of `make bench` (issue 14, item 5): the slot-release rush through a real nginx.

`--nginx-residents` (5,000) residents of one city go after its release month's slots within a minute (top page →
month calendar → a bookable day → hold → hold form → confirmation; bench/wrk/rush.lua), while 20 other cities
browse (top pages and calendars, the Host header rotating per request; bench/wrk/browse.lua). The load is wrk over
https through nginx (TLS with a certificate the bench generates, HTTP/1.1 keep-alive to the upstream) in front of
gunicorn with the production config (`ops/gunicorn.conf.py`, gthread) and bench/settings_bench.py. In the same run
and through the same nginx: the trivial view (/bench/trivial/, every middleware) as the baseline, before and after
the rush, and nginx's own `return 200` (the generator's ceiling: wrk + TLS + nginx, no app). Then SQL counts
overbookings over every day of the release month (bench/wrk_contested.py's CHECK_SQL), and the report states the
targets on this machine (0 errors, 0 overbookings, p99 < 1 s) met or missed, with the bound named from the CPU
each component used during the rush.

nginx is Debian's (`apt-get install nginx`, done here as root when missing; otherwise the section says "nginx
missing"), started as a non-daemon process with its own prefix, config, pid and logs under the bench's data
directory, on free high ports of 127.0.0.1.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import Sandbox, gunicorn_start, gunicorn_stop, log
from bench.cpu_usage import cpu_snapshot, cpu_used, machine_busy, postmaster_pid
from bench.nginx_report import latency_ms, targets
from bench.nginx_server import (
    NGINX_MISSING,
    certificate_write,
    nginx_ensure,
    nginx_params,
    nginx_running,
    nginx_version,
)
from bench.nginx_setup import SECTION, NginxRushResult, RushSetup, overbooking_check, rush_setup
from bench.tenancy import Cities
from bench.wrk_run import WRK_MISSING, Cores, WrkResult, wrk_command, wrk_path, wrk_result, wrk_run, wrk_stop
from bench.wrk_setup import APPLICATION, SCRIPTS_DIR

NO_CPUS: Cores = Cores((), ())
WARM_UP_ROUNDS = 10  # of 2 s of wrk each, at most


def wrk_https(
    port: int,
    path: str,
    *,
    host: str,
    connections: int,
    seconds: float,
    script: Path | None = None,
    script_args: Sequence[str] = (),
    tls: bool = True,
) -> list[str]:
    """wrk_command over https (one connection per thread: the scripts' Lua state is per thread)."""
    command = wrk_command(
        port,
        path,
        host=host,
        threads=connections,
        connections=connections,
        seconds=seconds,
        cores=NO_CPUS,
        script=script,
        script_args=script_args,
    )
    if tls:
        url = command.index(f"http://127.0.0.1:{port}{path}")
        command[url] = f"https://127.0.0.1:{port}{path}"
    return command


def _baseline(
    name: str, port: int, path: str, host: str, connections: int, seconds: float, *, tls: bool = True
) -> WrkResult:
    def command(duration: float) -> list[str]:
        return wrk_https(
            port,
            path,
            host=host,
            connections=connections,
            seconds=duration,
            script=SCRIPTS_DIR / "browse.lua",
            tls=tls,
        )

    # Warm-up: the connections and TLS sessions, and every worker's first requests (imports, caches), which take
    # seconds each on a busy machine: rounds of wrk until one answers most of its requests within a second.
    for _ in range(WARM_UP_ROUNDS):
        warm = wrk_run(command(2), 2)
        if warm.requests > 2 * connections and latency_ms(warm, 95) < 1000:
            break
    result = wrk_run(command(seconds), seconds)
    log(f"nginx:   {name}: {result.rps:,.0f} requests/s, p99 {_p(result, 99)} ms {result.failed}", SECTION)
    return result


def _p(result: WrkResult, q: int) -> str:
    value = latency_ms(result, q)
    return "–" if math.isnan(value) else f"{value:.1f}"


def _stop_wrk(process: subprocess.Popen[str]) -> WrkResult:
    return wrk_result(*wrk_stop(process), 0)  # failed only when it answered nothing


def rush_run(
    port: int, setup: RushSetup, args: argparse.Namespace, markers: Path, roots: dict[str, list[int]]
) -> NginxRushResult:
    """The browsers start, then the residents; wrk stops the residents' threads after their share, and the
    browsers are stopped when the last resident is done (or at the cap)."""
    connections = min(args.nginx_connections, args.nginx_residents)
    result = NginxRushResult(
        residents=args.nginx_residents,
        connections=connections,
        browsers=args.nginx_browsers,
        workers=args.nginx_workers,
        threads=args.nginx_threads,
        setup=setup,
        limit=args.nginx_limit,
    )
    markers.mkdir(parents=True, exist_ok=True)
    browse_command = wrk_https(
        port,
        "/",
        host=setup.browse_hosts[0],
        connections=args.nginx_browsers,
        seconds=args.nginx_limit + 30,
        script=SCRIPTS_DIR / "browse.lua",
        script_args=[APPLICATION, ",".join(setup.browse_hosts), ",".join(setup.browse_months)],
    )
    rush_command = wrk_https(
        port,
        "/",
        # With the port: nginx passes it on (not 443), and the residents' Origin and Referer must name it.
        host=f"{setup.rush_host}:{port}",
        connections=connections,
        seconds=args.nginx_limit + 30,
        script=SCRIPTS_DIR / "rush.lua",
        script_args=[
            APPLICATION,
            setup.month,
            str(args.nginx_residents),
            str(connections),
            str(markers),
            "R",
        ],
    )
    log(
        f"nginx: {args.nginx_residents} residents ({connections} at once) after {setup.seats} seats of "
        f"{setup.month}, {args.nginx_browsers} browsing {len(setup.browse_hosts)} cities",
        SECTION,
    )
    browse = subprocess.Popen(browse_command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        roots = {**roots, "wrk": [browse.pid]}
        before, busy = cpu_snapshot(roots), machine_busy()
        started = time.monotonic()
        rush = subprocess.Popen(rush_command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        roots["wrk"].append(rush.pid)
        deadline = started + args.nginx_limit
        next_load = started
        while rush.poll() is None and time.monotonic() < deadline:
            if sum(1 for _ in markers.glob("done-*")) >= connections:
                result.finished = True
                break
            if time.monotonic() >= next_load:
                result.loads.append(os.getloadavg()[0])
                next_load += 5
            time.sleep(0.05)
        result.rush_seconds = time.monotonic() - started
        after = cpu_snapshot(roots)
        result.cpu = cpu_used(before, after)
        result.processes = {name: len(pids) for name, pids in after.items() if name != "other"}
        # `other`: the rest of the machine's busy time (/proc/stat), short-lived processes included (their /proc
        # entries are gone by the second snapshot, and a parent's cutime would count a child's whole life).
        ours = sum(v for k, v in result.cpu.items() if k != "other")
        result.cpu["other"] = max(0.0, machine_busy() - busy - ours)
        result.rush = _stop_wrk(rush)
    finally:
        result.browse = _stop_wrk(browse)
    log(
        f"nginx: rush {'done' if result.finished else 'stopped at the cap'} in {result.rush_seconds:.1f} s: "
        f"{result.rush.flows} {result.rush.failed}; browsing {result.browse.rps:,.0f} requests/s; CPU-seconds "
        f"{ {k: round(v) for k, v in result.cpu.items()} } in {result.processes} processes "
        f"{result.browse.failed}",
        SECTION,
    )
    return result


def bench_nginx(box: Sandbox, cities: Cities, args: argparse.Namespace) -> NginxRushResult:
    from django.db import connection

    binary = nginx_ensure()
    empty = NginxRushResult(
        args.nginx_residents,
        args.nginx_connections,
        args.nginx_browsers,
        args.nginx_workers,
        args.nginx_threads,
    )
    if binary is None:
        log(f"NOTICE: {NGINX_MISSING}", SECTION)
        empty.skipped = NGINX_MISSING
        return empty
    if wrk_path() is None:
        log(f"NOTICE: {WRK_MISSING}", SECTION)
        empty.skipped = WRK_MISSING
        return empty
    setup = rush_setup(cities, target_seats=args.nginx_seats, browse_cities=args.nginx_cities)
    connection.close()
    gunicorn_stop(box)  # a server an earlier part left running
    # The app sees nginx as its peer and takes the client's address from X-Forwarded-For, as in production.
    os.environ["MADOGUCHI_TRUSTED_PROXIES"] = "127.0.0.1/32"
    try:
        upstream = gunicorn_start(
            box, args.nginx_workers, threads=args.nginx_threads, settings_module="bench.settings_bench"
        )
    finally:
        os.environ.pop("MADOGUCHI_TRUSTED_PROXIES", None)
    params = nginx_params(box.data_dir / "nginx", upstream)
    certificate_write(params)
    connections = min(args.nginx_connections, args.nginx_residents)
    seconds = args.nginx_baseline_seconds
    try:
        with nginx_running(binary, params) as server:
            assert box.gunicorn is not None
            roots = {"nginx": [server.pid], "gunicorn": [box.gunicorn.pid]}
            if (postgres := postmaster_pid(box)) is not None:
                roots["postgres"] = [postgres]
            log(f"nginx: https on 127.0.0.1:{params.listen_port}, upstream gunicorn on {upstream}", SECTION)
            ceiling = _baseline(
                "ceiling: nginx `return 200`", params.ceiling_port, "/", "localhost", connections, seconds
            )
            trivial_direct = _baseline(
                "trivial view on gunicorn (no nginx)",
                upstream,
                "/bench/trivial/",
                setup.rush_host,
                connections,
                seconds,
                tls=False,
            )
            trivial = [
                _baseline(
                    "trivial view through nginx",
                    params.listen_port,
                    "/bench/trivial/",
                    setup.rush_host,
                    connections,
                    seconds,
                )
            ]
            result = rush_run(params.listen_port, setup, args, box.data_dir / "rush-markers", roots)
            trivial.append(
                _baseline(
                    "trivial view through nginx (after)",
                    params.listen_port,
                    "/bench/trivial/",
                    setup.rush_host,
                    connections,
                    seconds,
                )
            )
            result.nginx_version = nginx_version(binary)
    finally:
        gunicorn_stop(box, kill_after=15)
    result.ceiling, result.trivial, result.trivial_direct = ceiling, trivial, trivial_direct
    result.check = overbooking_check(setup.schema, setup.days)
    result.booked_in_db = result.check.booked
    connection.close()
    if not all(met for _, _, met in targets(result)) and args.nginx_profile_requests > 0:
        result.profiles = _profiles(setup, args.nginx_profile_requests)
    log(
        f"nginx: overbookings {result.check.overbooked} (seats over {result.check.over}, mismatched "
        f"{result.check.mismatched}); booked {result.check.booked}/{result.check.seats}",
        SECTION,
    )
    return result


def _profiles(setup: RushSetup, requests: int) -> dict[str, Any]:
    """cProfile of the residents' GET pages in this process (bench/profiler.py), after the rush: where the app's
    time goes. The month is sold out by then and its calendar cached, where during the rush each hold and booking
    made the next calendar rebuild it."""
    from bench.profiler import profile_pages

    pages = {
        "city top page `/`": "/",
        f"month calendar `/book/{APPLICATION}/?month={setup.month}`": f"/book/{APPLICATION}/?month={setup.month}",
        "day page": f"/book/{APPLICATION}/{setup.days[0]}/" if setup.days else "",
    }
    return profile_pages(
        setup.rush_host, {name: path for name, path in pages.items() if path}, requests, SECTION
    )
