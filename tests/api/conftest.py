"""A live API server for the tests of this package that need a real one (the contract, parallel bookings).

`server` (module-scoped): a throwaway city (`contract`) made with committed data (the server is another process),
and gunicorn on the test database, reached at 127.0.0.1 with the city's Host header (Python does not resolve
*.localhost). Each module that uses it gets a city and a server of its own, dropped and stopped after its last test.

Gunicorn runs 2 workers × 8 threads: requests sent at once really overlap (16 at a time, the rest queued by the
server as in production), and its 16 database connections stay well under PostgreSQL's max_connections while other
tests run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.security.models import AllowedNetwork, ApiKey
from apps.security.tests.api_helpers import make_key
from tenants.db import use_public_schema
from tenants.models import Municipality
from tenants.services import MunicipalityInput, municipality_create
from tests.live_server import gunicorn_server

SLUG = "contract"
HOST = f"{SLUG}.localhost"
WORKERS = 2
THREADS = 8


@dataclass
class Server:
    base_url: str
    port: int
    city: Municipality
    keys: dict[str, tuple[ApiKey, str]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def server(django_db_setup: None, django_db_blocker: Any) -> Iterator[Server]:
    with django_db_blocker.unblock():
        city = municipality_create(
            data=MunicipalityInput(
                slug=SLUG, lg_code="119998", name_ja="契約試験市", name_en="Contract", prefecture="埼玉県"
            ),
            domains=[HOST],
        )
        with schema_context(SLUG):
            for cidr in ("127.0.0.0/8", "::1/128"):
                AllowedNetwork.objects.create(cidr=cidr, label="loopback")
        try:
            with gunicorn_server(workers=WORKERS, threads=THREADS, env={"DJANGO_DEBUG": "false"}) as port:
                yield Server(base_url=f"http://127.0.0.1:{port}", port=port, city=city)
        finally:
            use_public_schema()
            connection.close()  # the server's connections are gone; the drop must not wait for ours either
            Municipality.objects.get(slug=SLUG).delete(force_drop=True)


def server_key(server: Server, django_db_blocker: Any, name: str, *scopes: str) -> str:
    """The token of the server city's key `name` with `scopes`, made on first use and kept for the module."""
    if name not in server.keys:
        with django_db_blocker.unblock():
            server.keys[name] = make_key(server.city, *scopes, name=f"contract {name}")
    return server.keys[name][1]
