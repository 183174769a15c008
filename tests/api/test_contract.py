"""The API's contract (issue 13, item 5): schemathesis 4 runs every operation of the LIVE schema against a real server.

A throwaway city (`contract`) is made for this module with committed data (the server is another process) and
dropped after; the server is gunicorn on the test database, reached at 127.0.0.1 with the city's Host header
(Python does not resolve *.localhost). The schema is read from the server itself, so operations other features add
are checked the day they appear, without a change here.

Each pass runs the whole schema once with one credential, a handful of examples per operation (the schema's own
examples first, then generated ones; not stateful; POSTs write, which is fine in this city):

- a key with every scope: answers conform to the schema;
- a key with only slots:read and one with every scope but slots:read: every operation meets its 403 in one of them;
- an unknown key: every operation answers its documented 401;
- a key over its rate limit: every operation answers its documented 429.

In every pass: no 5xx, every status documented for its operation, the documented content type, body and headers.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.db import connection
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.security.counters import counter_hit
from apps.security.models import AllowedNetwork, ApiKey, ApiScope
from apps.security.tests.api_helpers import make_key
from tenants.db import use_public_schema
from tenants.models import Municipality
from tenants.services import MunicipalityInput, municipality_create
from tests.browser.conftest import server_env

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SLUG = "contract"
HOST = f"{SLUG}.localhost"
EXAMPLES = 6  # per operation and pass: a handful, so the whole module stays well under three minutes
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
ALL_SCOPES = tuple(ApiScope.values)


@dataclass
class Server:
    base_url: str
    city: Municipality
    keys: dict[str, tuple[ApiKey, str]] = field(default_factory=dict)


def _free_port() -> int:
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
        port = _free_port()
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "madoguchi.wsgi:application",
                "--chdir",
                str(ROOT / "platform"),
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                "2",
                "--threads",
                "4",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**server_env(), "DJANGO_DEBUG": "false"},
        )
        try:
            _wait_for(port, process)
            yield Server(base_url=f"http://127.0.0.1:{port}", city=city)
        finally:
            process.terminate()
            process.wait(timeout=30)
            use_public_schema()
            connection.close()  # the server's connections are gone; the drop must not wait for ours either
            Municipality.objects.get(slug=SLUG).delete(force_drop=True)


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the contract test's server did not start") from None
            time.sleep(0.1)


@pytest.fixture(scope="module")
def schema(server: Server) -> Any:
    loaded = schemathesis.openapi.from_url(
        f"{server.base_url}/api/v1/schema/?format=json", headers={"Host": HOST}, timeout=30
    )
    assert loaded.raw_schema["openapi"] == "3.1.0"
    return loaded


def _key(server: Server, django_db_blocker: Any, name: str, *scopes: str) -> str:
    if name not in server.keys:
        with django_db_blocker.unblock():
            server.keys[name] = make_key(server.city, *scopes, name=f"contract {name}")
    return server.keys[name][1]


def _run(schema: Any, server: Server, token: str, *, examples: int = EXAMPLES) -> list[str]:
    """Every operation of the live schema with `token`; the failures, one line each (empty when all conform)."""
    failures: list[str] = []
    headers = {"Host": HOST, "Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the live schema has no operation"
    for operation in operations:
        test = _operation_test(operation, server.base_url, headers, examples)
        try:
            test()
        except (
            Exception,
            BaseExceptionGroup,
        ) as error:  # every failure of every operation, reported together
            lines = [line.strip() for line in str(error).splitlines() if line.strip()][:25]
            failures.append(f"{operation.method.upper()} {operation.path}:\n    " + "\n    ".join(lines))
    return failures


def _operation_test(
    operation: Any, base_url: str, headers: dict[str, str], examples: int
) -> Callable[[], None]:
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,  # the same cases on every run: a failure here is a failure on the next run too
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=operation.as_strategy())
    def test(case: Any) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)

    return test


def _report(failures: list[str]) -> str:
    return f"{len(failures)} operations break the contract:\n" + "\n".join(failures)


def test_every_operation_conforms_with_a_key_of_every_scope(
    schema: Any, server: Server, django_db_blocker: Any
) -> None:
    token = _key(server, django_db_blocker, "all", *ALL_SCOPES)
    failures = _run(schema, server, token)
    assert not failures, _report(failures)


@pytest.mark.parametrize(
    "scopes",
    [(ApiScope.SLOTS_READ,), tuple(s for s in ALL_SCOPES if s != ApiScope.SLOTS_READ)],
    ids=["only-slots-read", "all-but-slots-read"],
)
def test_every_operation_documents_its_403_for_a_key_without_its_scope(
    schema: Any, server: Server, django_db_blocker: Any, scopes: tuple[str, ...]
) -> None:
    token = _key(server, django_db_blocker, "-".join(scopes), *scopes)
    failures = _run(schema, server, token, examples=2)
    assert not failures, _report(failures)


def test_every_operation_documents_its_401_for_an_unknown_key(schema: Any, server: Server) -> None:
    failures = _run(schema, server, "mdg_zzzzzzzz_" + "x" * 43, examples=1)
    assert not failures, _report(failures)


def test_every_operation_documents_its_429_for_a_key_over_its_limit(
    schema: Any, server: Server, django_db_blocker: Any
) -> None:
    key, token = server.keys.get("limited") or (None, "")
    if key is None:
        _key(server, django_db_blocker, "limited", *ALL_SCOPES)
        key, token = server.keys["limited"]
    with django_db_blocker.unblock(), schema_context(SLUG):
        counter_hit(
            f"api:rate:{key.prefix}", window=3600, fail_closed=True
        )  # a window that outlasts the pass
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE security_counter SET count = 1000000 WHERE key LIKE %s", [f"%api:rate:{key.prefix}%"]
            )
            assert cursor.rowcount == 1
    failures = _run(schema, server, token, examples=1)
    assert not failures, _report(failures)
