"""Tenancy benchmarks: city creation, no-op deploy migrations, request latency, a booking rush, the card import.
Writes bench/report.md.

Every figure is a ratio against a baseline measured in the same run, because machines are noisy: clone vs full
migration, a city created among 200 vs among 10, the project's deploy executor vs the stock and the
django-tenants-smart-executor ones, a city's page vs the vendor's page, bookings under a rush of 200 clients vs a
transaction that locks and updates one row and the availability page vs a trivial view. Nothing here is a pass/fail
threshold, except that the rush must show 0 overbookings.

The run never touches the developer database: it sets MADOGUCHI_DATA_DIR to a fresh temporary directory before
Django is imported, so the settings start a separate embedded PostgreSQL there (or, when DATABASE_URL is set, it
uses a dedicated database `madoguchi_bench` on that server, dropped and re-created). Both are removed at the end.

Parts (each a module of bench/, each runnable alone with --part; its sections replace theirs in the report):
  tenancy   sections 1-2: city creation, clone vs migrate; the no-op deploy per executor   (bench/tenancy.py)
  latency   section 3: a city's page vs the vendor's page through gunicorn                 (bench/latency.py)
  rush      section 4: the booking rush and the overbooking check                          (bench/rush.py)
  issuance  section 5: the card-list import and the counter search                         (bench/issuance.py)
  http      section 6: pages, flows and contested slots through wrk vs its ceiling         (bench/wrk_pages.py)
  scale     section 7: 1,741 cities: disk, creation, deploy, memory, dumps, latency        (bench/scale.py)
            (only with --part scale: tens of minutes, in a database of its own, madoguchi_scale)
  nginx     section 8: 5,000 residents after a month's slots through nginx, 20 cities browsing (bench/nginx_rush.py)

    .venv/bin/python bench/run.py                      # what `make bench` runs: every part
    .venv/bin/python bench/run.py --cities 50 --samples 5 --requests 200   # a quicker look
    .venv/bin/python bench/run.py --part rush          # only the booking rush (make bench PART=rush)
    .venv/bin/python bench/run.py --part http --http-page /book/   # one page through wrk, with the ceiling
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Run as a script (`python bench/run.py`), Python puts bench/ first on the path, not the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    BENCH_DATABASE,
    HTTP_CITY,
    ROOT,
    Sandbox,
    app_errors,
    assert_isolated,
    cpu_count,
    django_setup,
    gunicorn_start,
    load_text,
    log,
    manage,
    sandbox,
)
from bench.latency import allow_loopback_staff, bench_latency
from bench.nginx_report import HEADING as NGINX_HEADING
from bench.reports import (
    HEADINGS,
    creation_section,
    deploy_section,
    latency_section,
    machine_info,
    report_header,
    splice_section,
    write_report,
)
from bench.rush import bench_rush
from bench.rush_report import rush_section
from bench.scale import HEADING as SCALE_HEADING
from bench.scale import JAPAN_MUNICIPALITIES, SCALE_DATABASE
from bench.tenancy import (
    Cities,
    bench_creation,
    bench_deploy,
    check_pending_is_migrated,
    worker_deploy,
)
from bench.wrk_pages import HEADING as HTTP_HEADING

PARTS = (
    "tenancy",
    "latency",
    "rush",
    "issuance",
    "http",
    "scale",
    "nginx",
)  # a run without --part skips scale (slow) and nginx
LATENCY_PATHS = ["/", "/accounts/login/"]


# Every option but --part, --report, --keep and --worker-deploy, in --help's order: (flag, default, help, more of
# add_argument's keywords). The type is the default's, where the keywords name none.
OPTIONS: tuple[tuple[str, Any, str, dict[str, Any]], ...] = (
    ("--cities", 200, "cities present for the large measurements", {}),
    ("--small", 10, "cities present for the small creation measurement", {}),
    ("--samples", 10, "cities created each way at each size", {}),
    ("--deploy-repeats", 3, "runs of each deploy executor", {}),
    ("--requests", 500, "measured requests per host and path", {}),
    ("--warmup", 50, "unmeasured requests per host and path first", {}),
    ("--workers", 2, "gunicorn workers", {}),
    ("--rush-clients", 200, "booking clients in the rush", {}),
    ("--rush-browsers", 40, "clients browsing the other city meanwhile", {}),
    ("--rush-seats", 4, "seats per slot of the rush cities", {}),
    ("--rush-workers", 4, "gunicorn workers for the rush", {}),
    ("--rush-threads", 4, "threads per gunicorn worker for the rush", {}),
    ("--rush-requests", 2000, "requests per baseline of the rush (trivial view, ...)", {}),
    (
        "--part",
        None,
        "run only this part and replace its sections in the existing report (the other sections are kept)",
        {"choices": PARTS},
    ),
    ("--issuance-rows", 100_000, "rows of the generated card list", {}),
    ("--issuance-samples", 2000, "cards looked up in the search bench", {}),
    ("--http-duration", 6, "seconds of wrk per page (part http)", {}),
    ("--http-threads", 2, "wrk threads per page (part http)", {}),
    ("--http-connections", 32, "wrk connections per page, and flows at once (part http)", {}),
    ("--http-workers", 2, "gunicorn sync workers (part http)", {}),
    ("--http-cards", 3000, "generated cards for the pickup flow (part http)", {}),
    (
        "--http-pin",
        None,
        "pin wrk and the servers to separate CPUs with taskset (default: only with 4 CPUs or more; on 2 it "
        "halves the server) (part http)",
        {"action": argparse.BooleanOptionalAction},
    ),
    ("--contested-runs", 10, "runs on contested slots, each a fresh day (part http)", {}),
    ("--contested-clients", 200, "residents after one contested day (part http)", {}),
    ("--contested-limit", 15, "seconds at most per contested run (part http)", {}),
    ("--http-profile-requests", 200, "profiled requests per page with a target, 0: none (part http)", {}),
    (
        "--http-page",
        None,
        "measure only this path (repeatable; {day} is the application day; no flows; ceiling and baselines still "
        "run)",
        {"action": "append", "metavar": "PATH"},
    ),
    (
        "--http-redis",
        None,
        "serve the project's pages with this Redis as cache and broker (a database of its own: it is flushed "
        "before and after; the bench's own process keeps the database cache), to compare with the default (part "
        "http)",
        {"metavar": "URL"},
    ),
    ("--scale-cities", JAPAN_MUNICIPALITIES, "cities to provision (part scale)", {}),
    (
        "--scale-fill-minutes",
        0,
        "stop filling after this long and measure at the cities made by then (0: no limit) (part scale)",
        {"type": float},
    ),
    ("--scale-samples", 7, "cities created with all present, each deleted (part scale)", {}),
    ("--scale-deploy-repeats", 3, "no-op deploy runs (part scale)", {}),
    ("--scale-dump-at", 100, "cities present for the first whole pg_dump (part scale)", {}),
    ("--scale-worker-concurrency", 2, "Celery worker processes (part scale)", {}),
    ("--scale-fanout-timeout", 1800, "seconds at most for the fan-out (part scale)", {"type": float}),
    ("--scale-requests", 200, "requests per city and page (part scale)", {}),
    ("--scale-warmup", 20, "warm-up requests per city and page (part scale)", {}),
    ("--nginx-residents", 5000, "residents in the rush through nginx (part nginx)", {}),
    ("--nginx-connections", 100, "residents at once, one wrk connection each (part nginx)", {}),
    ("--nginx-browsers", 20, "wrk connections browsing the other cities (part nginx)", {}),
    ("--nginx-cities", 20, "other cities browsed (part nginx)", {}),
    ("--nginx-seats", 1500, "seats released over the rush month (part nginx)", {}),
    (
        "--nginx-workers",
        2 * cpu_count() + 1,
        "gunicorn workers (production's default: 2 x CPUs + 1) (part nginx)",
        {},
    ),
    ("--nginx-threads", 4, "threads per gunicorn worker (part nginx)", {}),
    ("--nginx-limit", 180, "seconds at most for the rush (part nginx)", {"type": float}),
    ("--nginx-baseline-seconds", 8, "seconds of wrk per baseline (part nginx)", {}),
    (
        "--nginx-profile-requests",
        200,
        "profiled requests per resident page when a target is missed, 0: none (part nginx)",
        {},
    ),
    (
        "--scale-redis",
        "redis://127.0.0.1:6379",
        "Redis for the fan-out's broker, an empty database 11-15 of it (emptied after); '' for the filesystem "
        "broker (part scale)",
        {"metavar": "URL"},
    ),
)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for flag, default, text, more in OPTIONS:
        typed = default is not None and not isinstance(default, str) and not {"action", "type"} & set(more)
        keywords: dict[str, Any] = {"type": type(default)} if typed else {}
        parser.add_argument(flag, default=default, help=text, **keywords, **more)
    parser.add_argument("--report", type=Path, default=ROOT / "bench" / "report.md")
    parser.add_argument("--keep", action="store_true", help="leave the database running (prints where)")
    parser.add_argument("--worker-deploy", metavar="VARIANT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker_deploy is None and not (2 <= args.small < args.cities and args.samples >= 1):
        parser.error("need 2 <= --small < --cities and --samples >= 1")
    return args


def run_issuance(box: Sandbox, cities: Cities, args: argparse.Namespace, header: str = "") -> list[str]:
    """Section 5 (bench/issuance.py): the card-list import vs COPY, the counter search vs an indexed lookup."""
    from bench.issuance import bench_issuance, issuance_section

    result = bench_issuance(
        cities, box.data_dir, rows=args.issuance_rows, samples=args.issuance_samples, log=log
    )
    return issuance_section(result, load_text("issuance"), header)


def run_http(box: Sandbox, args: argparse.Namespace, header: str = "") -> list[str]:
    """Section 6 (bench/wrk_pages.py): resident pages and the resident flow through wrk vs the generator's ceiling."""
    from bench.wrk_pages import bench_http
    from bench.wrk_report import http_section

    return http_section(bench_http(box, args), load_text("http"), header)


def run_nginx(box: Sandbox, cities: Cities, args: argparse.Namespace, header: str = "") -> list[str]:
    """Section 8 (bench/nginx_rush.py): the slot-release rush through nginx, 20 other cities browsing."""
    from bench.nginx_report import nginx_section
    from bench.nginx_rush import bench_nginx

    result = bench_nginx(box, cities, args)
    result.app_errors = app_errors(box)
    return nginx_section(result, args, header)


def run_part(part: str, box: Sandbox, cities: Cities, args: argparse.Namespace, header: str) -> None:
    """One part on its own, in a fresh database: its sections replace theirs in the existing report."""
    from django.db import connection

    sections: list[list[str]]
    if part == "tenancy":
        creation = bench_creation(cities, target=args.cities, small=args.small, samples=args.samples)
        deploy_cities = cities.count()
        connection.close()
        deploy = bench_deploy(box.data_dir, args.deploy_repeats)
        pending = check_pending_is_migrated(box.data_dir)
        sections = [
            creation_section(creation, args, header),
            deploy_section(deploy, deploy_cities, pending, args, header),
        ]
    elif part == "latency":
        # As many cities as a full run has by then: the vendor's home lists every one of them.
        log(f"filling up to {args.cities} cities (clone)", "latency")
        cities.fill_to(args.cities)
        present = cities.count()
        http_setup = allow_loopback_staff(HTTP_CITY)
        connection.close()
        port = gunicorn_start(box, args.workers)
        latency = bench_latency(port, LATENCY_PATHS, args.requests, args.warmup)
        sections = [
            latency_section(
                latency,
                errors=app_errors(box),
                http_setup=http_setup,
                cities=present,
                args=args,
                header=header,
            )
        ]
    elif part == "rush":
        sections = [rush_section(bench_rush(box, cities, args), args, header)]
        if errors := app_errors(box):
            log("exceptions the app logged: " + "; ".join(errors))
    elif part == "http":
        sections = [run_http(box, args, header)]
    elif part == "scale":
        from bench.scale import bench_scale, scale_section

        sections = [scale_section(bench_scale(box, cities, args), header)]
    elif part == "nginx":
        sections = [run_nginx(box, cities, args, header)]
    else:
        sections = [run_issuance(box, cities, args, header)]
    headings = {**HEADINGS, "http": (HTTP_HEADING,), "scale": (SCALE_HEADING,), "nginx": (NGINX_HEADING,)}
    for section, heading in zip(sections, headings[part], strict=True):
        splice_section(args.report, section, heading)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if args.worker_deploy:
        worker_deploy(args.worker_deploy)
        return 0
    started_at = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    # The scale part keeps its 1,741 schemas out of the database the other parts use.
    with sandbox(args.keep, SCALE_DATABASE if args.part == "scale" else BENCH_DATABASE) as box:
        log(f"fresh database under {box.data_dir}" if box.embedded else f"fresh database {box.database}")
        bootstrap = manage("bootstrap")
        django_setup()
        assert_isolated(box)
        machine = machine_info()

        cities = Cities()
        if args.part:
            header = (
                f"Measured on its own (`--part {args.part}`) on {started_at:%Y-%m-%d %H:%M} UTC, code "
                f"{machine['Code']}, {machine['CPU']}, PostgreSQL {machine['PostgreSQL']}; the other sections "
                "may come from an earlier run."
            )
            run_part(args.part, box, cities, args, header)
            log(f"wrote the {args.part} part of {args.report} in {time.perf_counter() - started:.0f} s")
            return 0
        creation = bench_creation(cities, target=args.cities, small=args.small, samples=args.samples)
        log("creation done", "creation")

        from django.db import connection

        deploy_cities = cities.count()
        connection.close()
        deploy = bench_deploy(box.data_dir, args.deploy_repeats)
        log("deploy runs done", "deploy")
        pending = check_pending_is_migrated(box.data_dir)
        connection.close()

        http_setup = allow_loopback_staff(HTTP_CITY)
        connection.close()
        port = gunicorn_start(box, args.workers)
        latency = bench_latency(port, LATENCY_PATHS, args.requests, args.warmup)
        log("latency done", "latency")
        rush = bench_rush(box, cities, args)
        issuance = run_issuance(box, cities, args)

        head = report_header(
            started=started_at,
            runtime=time.perf_counter() - started,
            machine=machine,
            args=args,
            bootstrap=bootstrap,
        )
        write_report(
            args.report,
            head,
            [
                creation_section(creation, args),
                deploy_section(deploy, deploy_cities, pending, args),
                latency_section(
                    latency, errors=app_errors(box), http_setup=http_setup, cities=deploy_cities, args=args
                ),
                rush_section(rush, args),
            ],
        )
        splice_section(args.report, issuance, HEADINGS["issuance"][0])
        splice_section(args.report, run_http(box, args), HTTP_HEADING)
    log(f"wrote {args.report} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
