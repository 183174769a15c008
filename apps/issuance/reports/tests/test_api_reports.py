"""The reports API (issue 13, item 3): the staff report's and the monthly summary's figures as JSON (the same
constructed history as test_reports.py), bad units and months as 400 with the field, the scope, the other city."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.issuance.models import CardState
from apps.issuance.reports.tests.test_reports import OCTOBER, SEPTEMBER, two_months
from apps.security.models import ApiKey, ApiScope
from apps.security.tests.api_helpers import bearer, make_key, problem
from tenants.models import Municipality

REPORTS = "/api/v1/reports/"
MONTHLY = "/api/v1/reports/monthly/"


@pytest.fixture
def key(city: Municipality) -> tuple[ApiKey, str]:
    return make_key(city, ApiScope.REPORTS_READ, name="集計ダッシュボード")


def _as_api(expected: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in expected.items() if k != "on_hand"}, "on_hand_at_end": expected["on_hand"]}


def test_the_monthly_summary_has_the_pages_figures(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    with schema_context(city.schema_name):
        two_months()
    response = city_client.get(MONTHLY, {"month": "2026-10"}, **bearer(key[1]))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["month"] == "2026-10"
    rows = {row["month"]: row for row in body["rows"]}
    assert len(rows) == 12
    assert body["rows"][0]["month"] == "2025-11"
    assert {k: v for k, v in rows["2026-09"].items() if k != "month"} == _as_api(SEPTEMBER)
    assert {k: v for k, v in rows["2026-10"].items() if k != "month"} == _as_api(OCTOBER)
    assert body["total"]["month"] == "2025-11/2026-10"
    assert body["total"]["received"] == SEPTEMBER["received"] + OCTOBER["received"]
    assert body["total"]["on_hand_at_end"] is None


def test_the_report_by_day_and_by_month(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    with schema_context(city.schema_name):
        two_months()
    daily = city_client.get(REPORTS, {"unit": "day", "month": "2026-10"}, **bearer(key[1]))
    assert daily.status_code == 200, daily.content
    body = daily.json()
    assert body["unit"] == "day"
    assert len(body["rows"]) == 31
    by_day = {row["period_start"]: row for row in body["rows"]}
    assert by_day["2026-10-10"]["issued"] == 1
    assert by_day["2026-10-10"]["events"] == {"issued": 1}
    assert by_day["2026-10-10"]["entered"] == {"issued": 1}
    assert by_day["2026-10-10"]["period_end"] == "2026-10-10"
    assert body["total"]["issued"] == OCTOBER["issued"]
    assert body["total"]["events"]["disposed"] == 1
    assert set(body["states_now"]) == set(CardState.values)
    assert body["states_now"]["issued"] == 2
    assert body["application_kinds"]
    monthly = city_client.get(REPORTS, {"unit": "month", "month": "2026-10"}, **bearer(key[1])).json()
    assert [row["period_start"] for row in monthly["rows"]][-2:] == ["2026-09-01", "2026-10-01"]
    assert monthly["rows"][-2]["events"]["imported"] == SEPTEMBER["received"]
    assert monthly["rows"][-1]["period_end"] == "2026-10-31"


def test_defaults_are_this_months_days(city_client: Client, key: tuple[ApiKey, str]) -> None:
    body = city_client.get(REPORTS, **bearer(key[1])).json()
    today = timezone.localdate()
    assert body["unit"] == "day"
    assert body["month"] == f"{today:%Y-%m}"
    assert body["rows"][0]["period_start"] == f"{today:%Y-%m}-01"
    assert all(value == 0 for value in body["states_now"].values())


@pytest.mark.parametrize(
    ("url", "query", "field"),
    [
        (REPORTS, {"unit": "week"}, "unit"),
        (REPORTS, {"month": "2026-13"}, "month"),
        (REPORTS, {"month": "来月"}, "month"),
        (MONTHLY, {"month": "2026/99"}, "month"),
    ],
)
def test_a_bad_unit_or_month_is_400_with_the_field(
    city_client: Client, key: tuple[ApiKey, str], url: str, query: dict[str, str], field: str
) -> None:
    response = city_client.get(url, query, **bearer(key[1]))
    assert response.status_code == 400
    body = problem(response)
    assert body["code"] == "validation_failed"
    assert field in body["errors"]


def test_reports_need_reports_read(city: Municipality, city_client: Client) -> None:
    _cards, token = make_key(city, ApiScope.CARDS_READ, ApiScope.CARDS_WRITE, name="カード連携")
    for url in (REPORTS, MONTHLY):
        response = city_client.get(url, **bearer(token))
        assert response.status_code == 403
        body = problem(response)
        assert body["code"] == "scope_missing"
        assert "reports:read" in body["detail"]


def test_another_citys_key_is_refused_here_and_counts_only_its_own_cards(
    city: Municipality, other_city: Municipality, city_client: Client, other_city_client: Client
) -> None:
    with schema_context(city.schema_name):
        two_months()
    _other, token = make_key(other_city, ApiScope.REPORTS_READ, name="桶川の集計")
    here = city_client.get(MONTHLY, {"month": "2026-10"}, **bearer(token))
    assert here.status_code == 401
    assert problem(here)["code"] == "api_key_unknown"
    at_home = other_city_client.get(MONTHLY, {"month": "2026-10"}, **bearer(token)).json()
    assert all(row["received"] == 0 and row["on_hand_at_end"] == 0 for row in at_home["rows"])
    report = other_city_client.get(REPORTS, {"month": "2026-10"}, **bearer(token)).json()
    assert sum(report["states_now"].values()) == 0
    assert report["total"]["issued"] == 0
