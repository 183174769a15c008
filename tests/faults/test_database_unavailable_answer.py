"""The answer while the database is away, in-process and fast (the real outage is test_postgres_restart.py).

A database error raised anywhere in a request (here: the tenant routing's first query, which runs before any
session, city or view) is a 503 with Retry-After: the Japanese-first page for pages, problem+json under /api/. Any
other exception stays Django's 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from unittest import mock

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client

from madoguchi import middleware
from tenants.models import Municipality
from tenants.routing import ROUTES
from tests.faults.report import Report


@pytest.fixture
def raising_client(city: Municipality) -> Client:
    return Client(HTTP_HOST="ageo.localhost", raise_request_exception=False)


@pytest.fixture
def fresh_outage_log() -> Iterator[None]:
    with mock.patch.object(middleware, "_OUTAGE_LOG", middleware._OutageLog()):
        yield


def _routing_raises(exc: Exception) -> mock._patch[mock.MagicMock]:
    return mock.patch.object(type(ROUTES), "tenant_for", side_effect=exc)


def test_a_page_is_a_japanese_503_with_retry_after(raising_client: Client, fresh_outage_log: None) -> None:
    with _routing_raises(OperationalError("connection refused")):
        response = raising_client.get("/book/")

    body = response.content.decode()
    Report("db-unavailable")(f"page: {response.status_code}, Retry-After {response.get('Retry-After')}")
    assert response.status_code == 503, body[:300]
    assert response["Retry-After"] == str(middleware.DATABASE_RETRY_AFTER)
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Type"].startswith("text/html")
    assert '<html lang="ja">' in body
    assert "一時的に利用できません" in body
    assert f"{middleware.DATABASE_RETRY_AFTER}秒ほど待って" in body


def test_an_english_browser_gets_english_first(raising_client: Client, fresh_outage_log: None) -> None:
    with _routing_raises(InterfaceError("connection already closed")):
        response = raising_client.get("/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 503
    assert '<html lang="en">' in response.content.decode()
    assert response["Content-Language"] == "en"


def test_the_api_gets_problem_json(raising_client: Client, fresh_outage_log: None) -> None:
    with _routing_raises(OperationalError("server closed the connection unexpectedly")):
        response = raising_client.get("/api/v1/slots/")

    body = json.loads(response.content)
    Report("db-unavailable")(f"api: {response.status_code} {body}")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == str(middleware.DATABASE_RETRY_AFTER)
    assert (body["status"], body["code"], body["instance"]) == (503, "database_unavailable", "/api/v1/slots/")
    assert body["title"] == "一時的に利用できません"


def test_an_outage_is_logged_once_not_per_request(
    raising_client: Client, fresh_outage_log: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING), _routing_raises(OperationalError("connection refused")):
        statuses = [raising_client.get("/book/").status_code for _ in range(5)]

    lines = [record for record in caplog.records if record.levelno >= logging.WARNING]
    Report("db-unavailable")(f"5 requests: {statuses}; log lines: {[r.getMessage() for r in lines]}")
    assert statuses == [503] * 5
    assert len(lines) == 1, [record.getMessage() for record in lines]
    assert "database unavailable" in lines[0].getMessage()


def test_any_other_exception_is_still_a_500(raising_client: Client, fresh_outage_log: None) -> None:
    with _routing_raises(RuntimeError("a bug")):
        response = raising_client.get("/book/")

    assert response.status_code == 500
    assert "Retry-After" not in response
