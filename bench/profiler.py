"""Where a page's time goes (issue 12, item 6): `make profile PAGE=/book/pickup/ [N=500] [HOST=ageo.localhost]`.

cProfile (stdlib) over N requests through Django's test client on a city host, warm (a few requests first), in a
database of its own: like the bench, an embedded PostgreSQL in a throw-away directory unless DATABASE_URL is set
(then a database `madoguchi_profile` on that server, dropped at the end), with the demo cities of `make run`
(`manage.py bootstrap --demo`). Prints the top functions by cumulative and by own time, the SQL queries per request
(counted in a separate pass: counting slows the cursor) and where the request's time goes: tenant routing
(MunicipalityMiddleware.process_request), SQL, template rendering, the rest.

    .venv/bin/python bench/profiler.py --page /book/pickup/ -n 500
    .venv/bin/python bench/profiler.py --page '/book/application/{day}/'   # {day}: the first open day

The bench's `http` part uses profile_page() in its own process for each target it misses (bench/wrk_report.py).
(Not named profile.py: run as a script, bench/ comes first on the path and would shadow the stdlib's `profile`,
which cProfile imports.)
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, log, table

PROFILE_DATABASE = "madoguchi_profile"
# pstats' raw table: (file, line, function) → (primitive calls, calls, own time, cumulative time, callers)
Key = tuple[str, int, str]
Raw = dict[Key, tuple[int, int, float, float, dict[Key, object]]]

# Parts of a request, by the function that covers them (file suffix, function name).
ROUTING = ("tenants/middleware.py", "process_request")
SQL = ("django/db/backends/utils.py", "_execute")
TEMPLATES = ("django/template/backends/django.py", "render")  # the outermost render only
REQUEST = ("django/core/handlers/base.py", "get_response")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--page", default="/book/pickup/", help="path to profile ({day}: the first open day)")
    parser.add_argument("-n", "--requests", type=int, default=500, help="profiled requests")
    parser.add_argument("--host", default="ageo.localhost", help="the city's host (demo: ageo.localhost)")
    parser.add_argument("--warmup", type=int, default=20, help="requests before profiling")
    parser.add_argument("--top", type=int, default=25, help="functions listed in each table")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.top < 1 or args.warmup < 0:
        parser.error("need -n >= 1, --top >= 1, --warmup >= 0")
    if not args.page.startswith("/"):
        parser.error("--page is a path: /book/pickup/")
    return args


@dataclass
class Profile:
    page: str
    host: str
    requests: int
    seconds: float  # wall time of the profiled requests (cProfile's overhead included)
    statuses: dict[int, int]
    queries: float  # per request, counted in a separate pass
    raw: Raw = field(default_factory=dict)

    @property
    def total(self) -> float:
        """Profiled time: the request handler's cumulative time when it was seen, else every function's own time."""
        return cumulative(self.raw, *REQUEST) or sum(entry[2] for entry in self.raw.values())

    def share(self, part: tuple[str, str]) -> float:
        total = self.total
        return cumulative(self.raw, *part) / total if total else 0.0


def cumulative(raw: Raw, file_suffix: str, function: str) -> float:
    """Cumulative time of the functions so named in files so ending (recursive calls are counted once by cProfile)."""
    return sum(
        entry[3] for (file, _, name), entry in raw.items() if name == function and file.endswith(file_suffix)
    )


def _where(key: Key) -> str:
    file, line, name = key
    if file == "~":
        return name  # a built-in: {method 'execute' of ...}
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    file = re.sub(r"^.*/lib/python3\.\d+/", "", file)  # the standard library
    return f"{file}:{line} {name}"


def top(
    raw: Raw, *, by: str, limit: int, skip: Callable[[Key, float], bool] | None = None
) -> list[list[str]]:
    """Rows (calls, own s, cumulative s, function) of the `limit` first functions by `by` ("cumulative"/"own")."""
    ordered = sorted(
        raw.items(), key=lambda item: item[1][3] if by == "cumulative" else item[1][2], reverse=True
    )
    rows = []
    for key, (primitive, calls, own, cum, _) in ordered:
        if skip is not None and skip(key, cum):
            continue
        shown = str(calls) if calls == primitive else f"{calls}/{primitive}"
        rows.append([shown, f"{own:.3f}", f"{cum:.3f}", f"`{_where(key)}`"])
        if len(rows) == limit:
            break
    return rows


def breakdown(result: Profile) -> list[list[str]]:
    """Tenant routing, SQL, templates and the rest, each a share of the profiled request time."""
    routing, sql, templates = (result.share(part) for part in (ROUTING, SQL, TEMPLATES))
    ms = 1000 * result.total / result.requests
    return [
        [
            "tenant routing (`MunicipalityMiddleware.process_request`)",
            f"{routing:.0%}",
            f"{routing * ms:.2f}",
        ],
        ["SQL (`CursorWrapper._execute`)", f"{sql:.0%}", f"{sql * ms:.2f}"],
        ["templates (the backend's `Template.render`)", f"{templates:.0%}", f"{templates * ms:.2f}"],
        ["the request in all (`BaseHandler.get_response`)", "100%", f"{ms:.2f}"],
    ]


def printout(result: Profile, limit: int) -> list[str]:
    statuses = ", ".join(f"{status} ×{count}" for status, count in sorted(result.statuses.items()))
    lines = [
        f"{result.page} on {result.host}: {result.requests} requests in {result.seconds:.2f} s "
        f"({1000 * result.seconds / result.requests:.2f} ms each, profiled), statuses {statuses}",
        f"SQL queries per request: {result.queries:g}",
        "",
        *table(["part of the request", "share", "ms per request"], breakdown(result)),
        "",
        f"Top {limit} by cumulative time (s over all requests):",
        "",
        *table(["calls", "own s", "cumulative s", "function"], top(result.raw, by="cumulative", limit=limit)),
        "",
        f"Top {limit} by own time:",
        "",
        *table(["calls", "own s", "cumulative s", "function"], top(result.raw, by="own", limit=limit)),
    ]
    return lines


def api_key_header(host: str) -> dict[str, str]:
    """For a path under /api/: a key of the host's city with every read scope, as a Bearer header."""
    from django_tenants.utils import schema_context

    from apps.security.actors import Actor
    from apps.security.api_keys import api_key_create
    from tenants.models import Domain

    schema = Domain.objects.select_related("tenant").get(domain=host).tenant.schema_name
    with schema_context(schema):
        issued = api_key_create(
            name="profile",
            scopes=["slots:read", "reservations:read", "cards:read", "reports:read"],
            expires_at=None,
            actor=Actor.system("profile"),
        )
    return {"authorization": f"Bearer {issued.token}"}


def profile_page(host: str, path: str, requests: int, warmup: int = 20) -> Profile:
    """In this process (Django set up, the city's data present): warm, count queries, then profile. A path under
    /api/ is called with a key of the city (every read scope)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    extra = api_key_header(host) if path.startswith("/api/") else {}
    client = Client(headers={"host": host, "accept-language": "ja", **extra})
    for _ in range(max(warmup, 1)):
        client.get(path)
    counted = min(requests, 10)
    with CaptureQueriesContext(connection) as captured:
        for _ in range(counted):
            client.get(path)
    queries = len(captured.captured_queries) / counted
    statuses: dict[int, int] = {}
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(requests):
        status = client.get(path).status_code
        statuses[status] = statuses.get(status, 0) + 1
    profiler.disable()
    seconds = time.perf_counter() - started
    connection.set_schema_to_public()  # type: ignore[attr-defined]  # django-tenants' backend
    raw: Raw = pstats.Stats(profiler).stats  # type: ignore[attr-defined]  # documented-by-use raw table
    return Profile(path, host, requests, seconds, statuses, queries, raw)


def profile_pages(host: str, pages: Mapping[str, str], requests: int, section: str) -> dict[str, Profile]:
    """profile_page of each page (name → path) with a log line each; a page that fails in process is logged and
    left out: a failed profile must not cost a report's section."""
    profiles = {}
    for name, path in pages.items():
        log(f"{section}: profile {name} ({requests} requests)", section)
        try:
            profiles[name] = profile_page(host, path, requests)
        except Exception as error:
            log(f"{section}:   profile failed: {type(error).__name__}: {error}", section)
    return profiles


def resolve_day(path: str) -> str:
    """`{day}` in a path: the application purpose's first open day of the demo city (as the bench's day page)."""
    if "{day}" not in path:
        return path
    from django_tenants.utils import schema_context

    from bench.wrk_setup import APPLICATION, CITY, first_open_day
    from tenants.selectors import municipality_get_by_slug

    with schema_context(municipality_get_by_slug(slug=CITY).schema_name):
        return path.format(day=first_open_day(APPLICATION).isoformat())


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    from bench.common import assert_isolated, django_setup, log, manage, sandbox

    with sandbox(keep=False, database=PROFILE_DATABASE) as box:
        log("profile: bootstrap and the demo cities in the profile's own database")
        manage("bootstrap")
        manage("bootstrap", "--demo")
        django_setup()
        assert_isolated(box)
        path = resolve_day(args.page)
        log(f"profile: {args.requests} requests of {path} on {args.host} (after {args.warmup} warm-up)")
        result = profile_page(args.host, path, args.requests, args.warmup)
        print("\n".join(printout(result, args.top)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
