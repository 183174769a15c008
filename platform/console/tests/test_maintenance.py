"""The maintenance banner on a city's pages: approved windows only, that city only, from N days before to the end;
the 503 page of the module during the window, while the other city, other modules and the console stay up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from console.maintenance.tests.helpers import decide, move_window, propose
from tenants.models import Municipality


@pytest.fixture(autouse=True)
def _fresh_banner_cache(db: None) -> None:
    # The windows are cached for a minute per city; each test starts from what the database says.
    for schema in ("public", "ageo", "okegawa"):
        with schema_context(schema):
            cache.clear()


def _banner(client: Client, path: str = "/") -> str:
    html = client.get(path).content.decode()
    start = html.find('class="container maintenance"')
    return "" if start < 0 else html[start : html.find("<main", start)]


def test_an_approved_window_shows_on_that_citys_pages_only(
    city: Municipality,
    other_city: Municipality,
    city_client: Client,
    other_city_client: Client,
    public_client: Client,
) -> None:
    proposal = propose([city, other_city], title="システム更新のお知らせ")
    assert "システム更新のお知らせ" not in _banner(city_client)  # proposed, not approved: nothing shows
    decide(city, proposal)  # okegawa has not answered
    for path in ("/", "/book/", "/accounts/login/"):
        banner = _banner(city_client, path)
        assert "システム更新のお知らせ" in banner, path
        assert "メンテナンスの予定" in banner
        assert 'role="status"' in banner
    assert "システム更新" not in _banner(other_city_client)
    assert "システム更新" not in _banner(public_client)


def test_the_approval_shows_at_once_and_a_rejection_removes_it(
    city: Municipality, city_client: Client
) -> None:
    proposal = propose([city])
    assert "システム更新" not in _banner(city_client)  # the empty list is now cached for a minute
    decide(city, proposal)
    assert "システム更新" in _banner(city_client)  # the approval dropped the city's cached copy
    decide(city, proposal, approve=False)
    assert "システム更新" not in _banner(city_client)


@override_settings(MAINTENANCE_NOTICE_DAYS=3)
def test_the_notice_shows_only_from_n_days_before(city: Municipality, city_client: Client) -> None:
    far = propose([city], start=timezone.now() + timedelta(days=3, hours=1))
    near = propose([city], start=timezone.now() + timedelta(days=2), title="近いメンテナンス")
    decide(city, far)
    decide(city, near)
    banner = _banner(city_client)
    assert "近いメンテナンス" in banner
    assert banner.count("notice--warning") == 1  # the window more than 3 days ahead is not shown yet


def test_the_body_is_sanitised(city: Municipality, city_client: Client) -> None:
    proposal = propose(
        [city], body='<p>停止します</p><script>alert(1)</script><a href="javascript:x()" onclick="y()">a</a>'
    )
    decide(city, proposal)
    banner = _banner(city_client)
    assert "停止します" in banner
    for bad in ("<script", "alert(1)", "javascript:", "onclick"):
        assert bad not in banner


def test_during_the_window_the_module_answers_503_and_the_rest_stays_up(
    city: Municipality,
    other_city: Municipality,
    city_client: Client,
    other_city_client: Client,
    public_client: Client,
) -> None:
    proposal = propose([city, other_city], modules=["booking"])
    decide(city, proposal)
    decide(other_city, proposal, approve=False)
    move_window(proposal, timezone.now() - timedelta(minutes=10), hours=1)
    for schema in ("ageo", "okegawa"):
        with schema_context(schema):
            cache.clear()
    for path in ("/", "/book/", "/book/find/", "/staff/booking/"):
        page = city_client.get(path)
        assert page.status_code == 503, path
        assert 2900 <= int(page["Retry-After"]) <= 3000
        html = page.content.decode()
        assert "メンテナンス中" in html
        assert "システム更新" in html
        assert "サーバーの更新のため停止します" in html
        assert page["Content-Language"] == "ja"
    english = city_client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 503
    assert "System update" in english.content.decode()
    for path in ("/healthz", "/accounts/login/", "/staff/cards/", "/n/nothing/"):
        assert city_client.get(path).status_code != 503, path
    assert other_city_client.get("/").status_code == 200  # okegawa rejected it
    assert public_client.get("/").status_code in (200, 302)  # the vendor's host is never closed
    assert public_client.get("/").status_code != 503


def test_the_503_wins_over_a_page_cached_before(city: Municipality, city_client: Client) -> None:
    proposal = propose([city])
    decide(city, proposal)
    assert city_client.get("/book/").status_code == 200  # cached now
    move_window(proposal, timezone.now() - timedelta(minutes=1))
    with schema_context("ageo"):
        cache.delete(f"console:maintenance:windows:v1:{city.pk}")
    assert city_client.get("/book/").status_code == 503


@pytest.mark.parametrize(
    ("path", "module"),
    [
        ("/", "booking"),
        ("/book/", "booking"),
        ("/book/find/", "booking"),
        ("/staff/booking/day/", "booking"),
        ("/staff/cards/", "issuance"),
        ("/staff/counter/", "issuance"),
        ("/staff/reports/", "issuance"),
        ("/n/abc/", "issuance"),
        ("/api/v1/purposes/", "api"),
        ("/staff/", None),
        ("/staff/vendor/maintenance/", None),
        ("/staff/audit/", None),
        ("/accounts/login/", None),
        ("/i18n/setlang/", None),
        ("/healthz", None),
        ("/readyz", None),
        ("/static/css/site.css", None),
        ("/theme.css", None),
    ],
)
def test_each_path_belongs_to_its_module_or_stays_up(path: str, module: str | None) -> None:
    from madoguchi.middleware import module_of

    assert module_of(path) == module
