"""The API's contract (issue 13, item 5): schemathesis 4 runs every operation of the LIVE schema against a real server.

A throwaway city (`contract`) is made for this module with committed data (the server is another process) and
dropped after; the server is gunicorn on the test database, reached at 127.0.0.1 with the city's Host header
(Python does not resolve *.localhost): the fixture `server` of tests/api/conftest.py. The schema is read from the
server itself, so operations other features add are checked the day they appear, without a change here.

Each pass runs the whole schema once with one credential, a handful of examples per operation (the schema's own
examples first, then generated ones; not stateful; POSTs write, which is fine in this city):

- a key with every scope: answers conform to the schema;
- a key with only slots:read and one with every scope but slots:read: every operation meets its 403 in one of them;
- an unknown key: every operation answers its documented 401;
- a key over its rate limit: every operation answers its documented 429.

In every pass: no 5xx, every status documented for its operation, the documented content type, body and headers.
"""

from __future__ import annotations

from collections.abc import Callable
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
from apps.security.models import ApiScope
from tests.api.conftest import HOST, SLUG, Server, server_key

pytestmark = pytest.mark.slow

EXAMPLES = 6  # per operation and pass: a handful, so the whole module stays well under three minutes
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
ALL_SCOPES = tuple(ApiScope.values)


@pytest.fixture(scope="module")
def schema(server: Server) -> Any:
    loaded = schemathesis.openapi.from_url(
        f"{server.base_url}/api/v1/schema/?format=json", headers={"Host": HOST}, timeout=30
    )
    assert loaded.raw_schema["openapi"] == "3.1.0"
    return loaded


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
    token = server_key(server, django_db_blocker, "all", *ALL_SCOPES)
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
    token = server_key(server, django_db_blocker, "-".join(scopes), *scopes)
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
        server_key(server, django_db_blocker, "limited", *ALL_SCOPES)
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
