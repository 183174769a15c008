"""Section 3 of `make bench` (part `latency`): a city's page vs the vendor's page through gunicorn.

Sequential GETs of the same paths on a city's host and on the public host, alternating, a new connection each;
the SQL statements one request runs are counted once through Django's test client.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.common import CITY_HOST_SUFFIX, HTTP_CITY, PUBLIC_HOST, count_queries, http_get, log


@dataclass
class LatencyResult:
    path: str
    city_ms: list[float]
    public_ms: list[float]
    statuses: dict[str, Counter[int]]
    queries: dict[str, int] = field(default_factory=dict)  # SQL statements one request runs, per host


def allow_loopback_staff(schema: str) -> str:
    """Let the bench city's staff pages answer 127.0.0.1, as the vendor's default networks do on the public host.

    Staff pages (the login included) are refused outside a city's allowed networks, and a new city has none.
    Returns what was done, for the report.
    """
    from django_tenants.utils import schema_context

    try:
        from apps.security.actors import Actor
        from apps.security.services import network_add
    except ImportError:
        return "no allowed-network service found: the city's staff pages may be refused (403)"
    with schema_context(schema):
        network_add(cidr="127.0.0.0/8", label="bench", actor=Actor.system("bench"))
    return f"127.0.0.0/8 added to `{schema}`'s allowed networks (apps.security.services.network_add)"


def bench_latency(port: int, paths: Sequence[str], requests: int, warmup: int) -> list[LatencyResult]:
    results = []
    city_host = HTTP_CITY + CITY_HOST_SUFFIX
    for path in paths:
        log(f"HTTP {path}: {warmup} warm-up + {requests} requests per host, alternating", "latency")
        for _ in range(warmup):
            http_get(port, city_host, path)
            http_get(port, PUBLIC_HOST, path)
        result = LatencyResult(
            path=path, city_ms=[], public_ms=[], statuses={"city": Counter(), "public": Counter()}
        )
        for index in range(requests):
            pairs = [("city", city_host), ("public", PUBLIC_HOST)]
            for kind, host in pairs if index % 2 == 0 else reversed(pairs):
                status, elapsed = http_get(port, host, path)
                result.statuses[kind][status] += 1
                (result.city_ms if kind == "city" else result.public_ms).append(elapsed)
        result.queries = {"city": count_queries(city_host, path), "public": count_queries(PUBLIC_HOST, path)}
        results.append(result)
    return results
