"""Incidents and availability end to end: the vendor's operator records an incident for ageo in the console, adds a
timeline entry; ageo's supervisor finds it on the staff pages and reads the month's availability report; okegawa's
supervisor does not see it. axe checks every page on the way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.security.models import Role, User
from console.access import VendorRole
from console.availability.models import Incident
from tests.browser.pages import (
    Account,
    assert_accessible,
    city_user,
    log_in,
    vendor_user,
    vendor_users_retire,
)

AGEO_BOSS = "browser-avail-ageo"
OKEGAWA_BOSS = "browser-avail-okegawa"
OPERATOR = "browser-avail-op"
TITLE = "予約画面の表示が遅い"


@pytest.fixture
def accounts(django_db_blocker: Any, server_port: int) -> Iterator[dict[str, Account]]:
    found = {}
    with django_db_blocker.unblock():
        for slug, name in (("ageo", AGEO_BOSS), ("okegawa", OKEGAWA_BOSS)):
            found[slug] = city_user(slug, name, Role.SUPERVISOR)
        found["operator"] = vendor_user(OPERATOR, VendorRole.OPERATOR)
    yield found
    with django_db_blocker.unblock():
        Incident.objects.filter(title=TITLE).delete()
        for slug, name in (("ageo", AGEO_BOSS), ("okegawa", OKEGAWA_BOSS)):
            with schema_context(slug):
                User.objects.filter(username=name).delete()
        vendor_users_retire(OPERATOR)


def test_an_operator_records_an_incident_and_only_the_affected_city_sees_it(
    browser: Any, server_port: int, accounts: dict[str, Account]
) -> None:
    console = f"http://localhost:{server_port}"
    # bypass_csp: axe's script is injected by the test (the pages' policy allows only their own scripts).
    options = {"viewport": {"width": 1280, "height": 900}, "locale": "ja-JP", "bypass_csp": True}
    vendor = browser.new_context(**options).new_page()
    log_in(vendor, console, accounts["operator"], then="/console/availability/incidents/new/")
    assert vendor.url == f"{console}/console/availability/incidents/new/", vendor.url
    assert_accessible(vendor)
    vendor.get_by_label("件名").fill(TITLE)
    vendor.get_by_label("受付日時").fill("2026-12-05T09:12")
    vendor.get_by_label("受付方法").select_option(label="電話")
    vendor.get_by_label("重大度").select_option("s3")
    vendor.get_by_label("影響を受けた自治体").fill("ageo")
    vendor.get_by_label("予約", exact=True).check()
    vendor.get_by_label("原因").fill("調査中")
    with vendor.expect_navigation():
        vendor.get_by_role("button", name="記録する").click()
    assert vendor.locator("h1").inner_text() == TITLE
    assert "上尾市（ageo）" in vendor.locator("main").inner_text()
    assert_accessible(vendor)
    vendor.get_by_label("内容").fill("アプリケーションサーバーを1台追加し、復旧を確認")
    with vendor.expect_navigation():
        vendor.get_by_role("button", name="経過を追加する").click()
    assert "アプリケーションサーバーを1台追加し" in vendor.locator("#timeline + ol").inner_text()
    vendor.goto(f"{console}/console/availability/?city=ageo")
    assert "機能ごとの稼働率" in vendor.locator("main").inner_text()
    assert_accessible(vendor)

    ageo = f"http://ageo.localhost:{server_port}"
    city = browser.new_context(**options).new_page()
    log_in(city, ageo, accounts["ageo"], then="/staff/")
    with city.expect_navigation():
        city.get_by_role("link", name="システムの稼働状況と障害").click()
    assert city.locator("h1").inner_text() == "システムの稼働状況"
    assert "機能ごとの稼働率" in city.locator("main").inner_text()
    assert_accessible(city)
    with city.expect_navigation():
        city.get_by_role("link", name="障害のお知らせ").click()
    assert_accessible(city)
    with city.expect_navigation():
        city.get_by_role("link", name=TITLE).click()
    text = city.locator("main").inner_text()
    assert "アプリケーションサーバーを1台追加し、復旧を確認" in text
    assert "調査中" in text
    assert_accessible(city)

    okegawa = f"http://okegawa.localhost:{server_port}"
    other = browser.new_context(**options).new_page()
    log_in(other, okegawa, accounts["okegawa"], then="/staff/vendor/incidents/")
    assert TITLE not in other.locator("main").inner_text()
    assert "記録された障害はありません" in other.locator("main").inner_text()
