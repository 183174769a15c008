"""The vendor's maintenance notices: a banner on every city's pages and the vendor's, or only the cities named."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from console.models import MaintenanceNotice
from console.selectors import maintenance_notices_for
from tenants.models import Municipality


@pytest.fixture(autouse=True)
def _fresh_banner_cache(db: None) -> None:
    # The banner is cached for a minute per city; each test starts from what the database says.
    for schema in ("public", "ageo", "okegawa"):
        with schema_context(schema):
            cache.clear()


def _notice(
    title: str,
    *,
    starts: timedelta = timedelta(hours=-1),
    ends: timedelta | None = None,
    window: tuple[timedelta, timedelta] | None = None,
    body: str = "",
) -> MaintenanceNotice:
    now = timezone.now()
    with schema_context("public"):
        return MaintenanceNotice.objects.create(
            title_ja=title,
            title_en=f"{title} (en)",
            body_ja=body,
            starts_at=now + starts,
            ends_at=now + ends if ends is not None else None,
            window_start=now + window[0] if window else None,
            window_end=now + window[1] if window else None,
        )


def _banner(client: Client, path: str = "/") -> str:
    html = client.get(path).content.decode()
    start = html.find('class="container maintenance"')
    return "" if start < 0 else html[start : html.find("<main", start)]


def test_a_notice_for_every_city_shows_on_city_and_vendor_pages(
    city: Municipality, city_client: Client, other_city_client: Client, public_client: Client
) -> None:
    _notice("システムメンテナンス", window=(timedelta(days=1), timedelta(days=1, hours=2)))
    for client, path in (
        (city_client, "/"),
        (city_client, "/book/"),
        (other_city_client, "/"),
        (public_client, "/"),
    ):
        banner = _banner(client, path)
        assert "システムメンテナンス" in banner, path
        assert "メンテナンスの予定" in banner
        assert 'role="status"' in banner
        assert "notice--warning" in banner


def test_a_targeted_notice_shows_only_in_the_cities_named(
    city: Municipality,
    other_city: Municipality,
    city_client: Client,
    other_city_client: Client,
    public_client: Client,
) -> None:
    notice = _notice("上尾市だけの作業")
    with schema_context("public"):
        notice.municipalities.add(city)
    assert "上尾市だけの作業" in _banner(city_client)
    assert "上尾市だけの作業" not in _banner(other_city_client)
    assert "上尾市だけの作業" not in _banner(public_client)


def test_in_progress_during_the_window(city: Municipality, city_client: Client) -> None:
    _notice("作業中です", window=(timedelta(minutes=-10), timedelta(hours=1)))
    assert "メンテナンス中" in _banner(city_client)


def test_only_notices_inside_their_display_period(city: Municipality) -> None:
    _notice("掲載中", ends=timedelta(hours=1))
    _notice("まだ先", starts=timedelta(hours=1))
    _notice("終わった", starts=timedelta(days=-2), ends=timedelta(days=-1))
    titles = [n.title_ja for n in maintenance_notices_for(city.pk, timezone.now())]
    assert titles == ["掲載中"]


def test_the_body_is_sanitised(city: Municipality, city_client: Client) -> None:
    notice = _notice(
        "お知らせ",
        body='<p>停止します</p><script>alert(1)</script><a href="javascript:x()" onclick="y()">a</a>',
    )
    with schema_context("public"):
        notice.refresh_from_db()
    assert "<script" not in notice.body_ja
    banner = _banner(city_client)
    assert "停止します" in banner
    for bad in ("<script", "alert(1)", "javascript:", "onclick"):
        assert bad not in banner


def test_the_banner_costs_at_most_one_query_a_minute(
    city: Municipality, city_client: Client, django_assert_num_queries: object
) -> None:
    _notice("キャッシュ")
    city_client.get("/")
    from console.context_processors import maintenance_cache_key

    with schema_context("ageo"):
        assert cache.get(maintenance_cache_key(city.pk)) is not None


def test_the_vendor_console_lists_the_notices(public_client: Client) -> None:
    from apps.security.models import User

    with schema_context("public"):
        admin = User.objects.create_superuser("vendor-admin", "v@example.jp", "x-long-password-1")
    public_client.force_login(admin)
    response = public_client.get("/console/admin/console/maintenancenotice/add/")
    assert response.status_code in (200, 302)
