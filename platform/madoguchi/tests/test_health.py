from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from madoguchi import health


def test_healthz_answers_on_any_host(db: None) -> None:
    for host in ("localhost", "ageo.localhost", "10.0.0.5", "unknown.example"):
        response = Client(HTTP_HOST=host).get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def test_readyz_reports_database_migrations_and_broker(city_client: Client) -> None:
    response = city_client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "migrations", "broker"}
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_is_503_when_a_city_lacks_a_migration(
    public_client: Client, city: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "_migrations_ok", False)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM ageo.django_migrations WHERE app = 'booking'")
    response = public_client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == {
        "ok": False,
        "ms": response.json()["checks"]["migrations"]["ms"],
        "error": "1 schema(s) with pending migrations",
    }


def test_readyz_stays_ready_but_degraded_when_the_broker_is_unreachable(
    public_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Residents still book with Redis away: readiness must not take every web pod out of the Service."""

    def broken() -> None:
        raise ConnectionRefusedError("broker down")

    monkeypatch.setitem(health.CHECKS, "broker", broken)
    response = public_client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["broker"] == {
        "ok": False,
        "ms": response.json()["checks"]["broker"]["ms"],
        "error": "ConnectionRefusedError",
    }
    assert response.json()["checks"]["database"]["ok"] is True


def test_readyz_is_503_when_the_database_check_fails_even_with_the_broker_down(
    public_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise ConnectionRefusedError("down")

    monkeypatch.setitem(health.CHECKS, "broker", broken)
    monkeypatch.setitem(health.CHECKS, "database", broken)
    response = public_client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
