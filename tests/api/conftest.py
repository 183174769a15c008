"""A live API server for the tests of this package that need a real one (the contract, parallel bookings).

`server` (module-scoped): a throwaway city (`contract`) made with committed data (the server is another process),
and gunicorn on the test database, reached at 127.0.0.1 with the city's Host header (Python does not resolve
*.localhost). Each module that uses it gets a city and a server of its own, dropped and stopped after its last test.

Gunicorn runs 2 workers × 8 threads: requests sent at once really overlap (16 at a time, the rest queued by the
server as in production), and its 16 database connections stay well under PostgreSQL's max_connections while other
tests run.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.security.models import AllowedNetwork, ApiKey
from apps.security.tests.api_helpers import make_key
from tenants.db import use_public_schema
from tenants.models import Municipality
from tenants.services import MunicipalityInput, municipality_create
from tests.browser.conftest import server_env

ROOT = Path(__file__).resolve().parents[2]
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        port = free_port()
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "madoguchi.wsgi:application",
                "--chdir",
                str(ROOT / "platform"),
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                str(WORKERS),
                "--threads",
                str(THREADS),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**server_env(), "DJANGO_DEBUG": "false"},
        )
        try:
            wait_for(port, process)
            yield Server(base_url=f"http://127.0.0.1:{port}", port=port, city=city)
        finally:
            process.terminate()
            process.wait(timeout=30)
            use_public_schema()
            connection.close()  # the server's connections are gone; the drop must not wait for ours either
            Municipality.objects.get(slug=SLUG).delete(force_drop=True)


def wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the API tests' server did not start") from None
            time.sleep(0.1)


def server_key(server: Server, django_db_blocker: Any, name: str, *scopes: str) -> str:
    """The token of the server city's key `name` with `scopes`, made on first use and kept for the module."""
    if name not in server.keys:
        with django_db_blocker.unblock():
            server.keys[name] = make_key(server.city, *scopes, name=f"contract {name}")
    return server.keys[name][1]
