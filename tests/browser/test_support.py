"""Support access end to end: ageo's supervisor grants the vendor's support user an hour, the vendor user enters from
the console and sees ageo's day view, the supervisor ends it, and the vendor's next page is refused. axe checks the
support pages on the way."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.security.models import Role, User
from console.access import VendorRole
from console.support.models import SupportGrant
from tests.browser.pages import (
    Account,
    assert_accessible,
    city_user,
    log_in,
    vendor_user,
    vendor_users_retire,
)

SUPERVISOR = "browser-support-boss"
VENDOR = "browser-vsup"


@pytest.fixture
def accounts(django_db_blocker: Any, server_port: int) -> Iterator[tuple[Account, Account]]:
    with django_db_blocker.unblock():
        boss = city_user("ageo", SUPERVISOR, Role.SUPERVISOR)
        vendor = vendor_user(VENDOR, VendorRole.SUPPORT)
    yield boss, vendor
    with django_db_blocker.unblock():
        vendor_users_retire(VENDOR)
        SupportGrant.objects.filter(grantee_username=VENDOR).delete()
        with schema_context("ageo"):
            User.objects.filter(username__in=[SUPERVISOR, f"support.{VENDOR}"]).delete()


def test_a_supervisor_grants_an_hour_the_vendor_sees_the_day_view_until_it_is_ended(
    browser: Any, server_port: int, accounts: tuple[Account, Account]
) -> None:
    boss, vendor = accounts
    ageo = f"http://ageo.localhost:{server_port}"
    console = f"http://localhost:{server_port}"
    # bypass_csp: axe's script is injected by the test (the pages' policy allows only their own scripts).
    options = {"viewport": {"width": 1280, "height": 900}, "locale": "ja-JP", "bypass_csp": True}
    city_side = browser.new_context(**options).new_page()
    vendor_side = browser.new_context(**options).new_page()

    log_in(city_side, ageo, boss, then="/staff/vendor/support/")
    assert city_side.url == f"{ageo}/staff/vendor/support/", city_side.url
    assert_accessible(city_side)
    city_side.get_by_label("運営事業者の担当者").select_option(label=VENDOR)
    city_side.get_by_label("見せる範囲（閲覧のみ）").select_option("booking")
    city_side.get_by_label("期間（今から）").select_option(label="1時間")
    city_side.get_by_label("理由").fill("問い合わせ 2026-0042 の調査")
    with city_side.expect_navigation():
        city_side.get_by_role("button", name="サポートアクセスを許可する").click()
    assert f"{VENDOR} にサポートアクセスを許可しました" in city_side.locator("main").inner_text()
    assert_accessible(city_side)

    log_in(vendor_side, console, vendor, then="/console/support/")
    assert vendor_side.url == f"{console}/console/support/", vendor_side.url
    assert "問い合わせ 2026-0042 の調査" in vendor_side.locator("main").inner_text()
    assert_accessible(vendor_side)
    # "Enter" under the pages' real policy (the other contexts bypass it for axe): its form is redirected to the
    # city's host, which the console page's form-action must allow.
    strict = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    strict.add_cookies(vendor_side.context.cookies())
    entering = strict.new_page()
    entering.goto(f"{console}/console/support/")
    with entering.expect_navigation(url=re.compile(r"/staff/booking/day/")):
        entering.get_by_role("button", name="上尾市 に入る").click()
    assert entering.url.startswith(f"{ageo}/staff/booking/day/"), entering.url
    assert "当日の予約一覧" in entering.locator("h1").inner_text()
    assert "サポートアクセス中です（閲覧のみ" in entering.locator(".support-banner").inner_text()
    # The support session goes on in the axe-checked context from here.
    vendor_side.context.add_cookies(strict.cookies())
    strict.close()
    # The banner stays on every page of the session, and the day view offers no control it would refuse.
    for path in ("/staff/", "/staff/booking/day/"):
        vendor_side.goto(f"{ageo}{path}")
        banner = vendor_side.get_by_role("status").filter(has_text="サポートアクセス中です")
        assert "範囲: 予約（当日の予約一覧・予約の閲覧）" in banner.inner_text(), path
    assert vendor_side.get_by_role("button", name="予約を受け付ける").count() == 0
    assert vendor_side.get_by_role("button", name="受付を停止").count() == 0
    assert_accessible(vendor_side)

    city_side.reload()
    city_side.locator("summary", has_text="3 件").click()  # the vendor's page views, listed under the grant
    assert "/staff/booking/day/" in city_side.locator("main").inner_text()
    with city_side.expect_navigation():
        city_side.get_by_role("button", name=f"{VENDOR} のサポートアクセスを終了").click()
    assert f"{VENDOR} へのサポートアクセスを終了しました" in city_side.locator("main").inner_text()

    response = vendor_side.goto(f"{ageo}/staff/booking/day/")
    assert response.status == 403
    assert "サポートアクセスは終了しました" in vendor_side.locator("h1").inner_text()
    assert_accessible(vendor_side)
    vendor_side.goto(f"{ageo}/staff/booking/day/")
    assert "/accounts/login/" in vendor_side.url  # signed out
