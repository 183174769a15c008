"""A suspended city and a maintenance window answer the API with problem details (503, Retry-After), the pages
with their HTML."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import HttpRequest
from django.test import Client
from django.utils import timezone

from apps.security.models import ApiScope
from apps.security.tests.api_helpers import bearer, make_key, problem
from madoguchi import middleware
from madoguchi.middleware import MaintenanceWindow
from tenants.models import Municipality
from tenants.services import municipality_set_status

PURPOSES = "/api/v1/purposes/"


def test_a_suspended_citys_api_answers_a_problem_not_the_html_page(
    city: Municipality, city_client: Client, other_city_client: Client
) -> None:
    _key, token = make_key(city, ApiScope.SLOTS_READ)
    municipality_set_status(municipality=city, status=Municipality.Status.SUSPENDED)
    response = city_client.get(PURPOSES, **bearer(token))
    assert response.status_code == 503
    body = problem(response)
    assert body["code"] == "city_suspended"
    assert body["title"] == "この自治体のサービスは停止しています"
    assert int(response["Retry-After"]) > 0
    english = city_client.get("/api/v1/nowhere/", HTTP_ACCEPT_LANGUAGE="en")
    assert problem(english)["title"] == "City service suspended"
    assert "text/html" in city_client.get("/")["Content-Type"]  # the page keeps its Japanese notice
    assert other_city_client.get(PURPOSES).status_code == 401  # the other city goes on


@pytest.fixture
def api_window(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    asked: list[str] = []
    ends = timezone.now() + timedelta(minutes=30)

    def window(request: HttpRequest, module: str) -> MaintenanceWindow | None:
        asked.append(module)
        if request.tenant.slug != "ageo" or module != "api":  # type: ignore[attr-defined]
            return None
        return MaintenanceWindow(
            module="api",
            ends_at=ends,
            notice_ja="12時30分まで API を停止しています。",
            notice_en="The API is down for maintenance until 12:30.",
        )

    monkeypatch.setattr(middleware, "maintenance_window", window)
    return asked


def test_a_maintenance_window_of_the_api_answers_503_with_its_notice(
    api_window: list[str], city: Municipality, city_client: Client, other_city_client: Client
) -> None:
    _key, token = make_key(city, ApiScope.SLOTS_READ)
    response = city_client.get(PURPOSES, **bearer(token))
    assert response.status_code == 503
    body = problem(response)
    assert body["code"] == "maintenance"
    assert body["detail"] == "12時30分まで API を停止しています。"
    assert 1700 <= int(response["Retry-After"]) <= 1800
    english = city_client.get(PURPOSES, HTTP_ACCEPT_LANGUAGE="en", **bearer(token))
    assert problem(english)["detail"] == "The API is down for maintenance until 12:30."
    assert "api" in api_window
    assert city_client.get("/").status_code == 200  # pages are not the API's window
    assert other_city_client.get(PURPOSES).status_code == 401  # a window of ageo only


def test_a_window_without_an_end_asks_to_retry_in_an_hour(
    monkeypatch: pytest.MonkeyPatch, city_client: Client
) -> None:
    monkeypatch.setattr(
        middleware,
        "maintenance_window",
        lambda request, module: MaintenanceWindow(module=module, ends_at=None, notice_ja="メンテナンス中"),
    )
    response = city_client.get("/api/v1/schema/")
    assert problem(response)["code"] == "maintenance"
    assert response["Retry-After"] == "3600"


def test_an_approved_api_window_answers_the_problem_from_the_database(
    city: Municipality, city_client: Client, other_city_client: Client
) -> None:
    """The real path: proposed in the console, approved by ageo's supervisor, in progress (no patching)."""
    from django.core.cache import cache
    from django_tenants.utils import schema_context

    from console.maintenance.tests.helpers import decide, move_window, propose

    proposal = propose([city], modules=["api"], title="API停止")
    decide(city, proposal)
    move_window(proposal, timezone.now() - timedelta(minutes=5), hours=1)
    with schema_context(city.schema_name):
        cache.clear()
    _key, token = make_key(city, ApiScope.SLOTS_READ)
    response = city_client.get(PURPOSES, **bearer(token))
    assert response.status_code == 503
    assert problem(response)["code"] == "maintenance"
    assert "API停止" in problem(response)["detail"]
    assert 3000 <= int(response["Retry-After"]) <= 3300
    assert city_client.get("/").status_code == 200  # the pages are not the API's window
    assert other_city_client.get(PURPOSES).status_code == 401
