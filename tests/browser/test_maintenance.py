"""Maintenance end to end: the vendor's operator proposes a window in the console (the overlap warning confirmed),
ageo's supervisor approves it in the city's pages, and the notice shows on ageo's booking top page and not on
okegawa's. axe checks each page on the way."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.calendar.hours import TOKYO
from apps.security.models import Role, User
from console.access import VendorRole
from console.maintenance.models import MaintenanceProposal
from tenants.models import Municipality
from tests.browser.pages import (
    Account,
    assert_accessible,
    city_user,
    log_in,
    vendor_user,
    vendor_users_retire,
)

SUPERVISOR = "browser-maint-boss"
OPERATOR = "browser-maint-op"
TITLE = "予約システムの更新（ブラウザ試験）"


@pytest.fixture
def accounts(django_db_blocker: Any, server_port: int) -> Iterator[tuple[Account, Account]]:
    with django_db_blocker.unblock():
        boss = city_user("ageo", SUPERVISOR, Role.SUPERVISOR)
        operator = vendor_user(OPERATOR, VendorRole.OPERATOR)
    yield boss, operator
    with django_db_blocker.unblock():
        vendor_users_retire(OPERATOR)
        with schema_context("public"):
            MaintenanceProposal.objects.filter(title_ja=TITLE).delete()
        with schema_context("ageo"):
            User.objects.filter(username=SUPERVISOR).delete()


def test_proposed_in_the_console_approved_by_ageo_shown_on_ageos_top_page_only(
    browser: Any, server_port: int, accounts: tuple[Account, Account]
) -> None:
    boss, operator = accounts
    ageo = f"http://ageo.localhost:{server_port}"
    okegawa = f"http://okegawa.localhost:{server_port}"
    console = f"http://localhost:{server_port}"
    options = {"viewport": {"width": 1280, "height": 900}, "locale": "ja-JP", "bypass_csp": True}
    vendor_side = browser.new_context(**options).new_page()
    city_side = browser.new_context(**options).new_page()
    resident = browser.new_context(**options).new_page()

    log_in(vendor_side, console, operator, then="/console/maintenance/new/")
    assert vendor_side.url == f"{console}/console/maintenance/new/", vendor_side.url
    assert_accessible(vendor_side)
    day = (timezone.now().astimezone(TOKYO) + timedelta(days=2)).date()
    vendor_side.get_by_label("上尾市 (ageo)").check()
    vendor_side.get_by_label("予約", exact=True).check()
    vendor_side.get_by_label("開始").fill(f"{day:%Y-%m-%d}T02:00")
    vendor_side.get_by_label("終了").fill(f"{day:%Y-%m-%d}T04:00")
    vendor_side.get_by_label("件名（日本語）").fill(TITLE)
    vendor_side.get_by_label("内容と理由（日本語）").fill("サーバーの更新のため、予約の受付を止めます。")
    with vendor_side.expect_navigation():
        vendor_side.get_by_role("button", name="提案して承認を依頼する").click()
    assert "提供時間に重なります" in vendor_side.locator("main").inner_text()  # booking is committed all day
    assert_accessible(vendor_side)
    vendor_side.get_by_label("提供時間に重なることを承知で提案する").check()
    with vendor_side.expect_navigation(url=re.compile(r"/console/maintenance/$")):
        vendor_side.get_by_role("button", name="提案して承認を依頼する").click()
    assert "承認待ち" in vendor_side.locator("main").inner_text()
    assert_accessible(vendor_side)

    resident.goto(f"{ageo}/")
    assert TITLE not in resident.locator("body").inner_text()  # not approved yet

    log_in(city_side, ageo, boss, then="/staff/vendor/maintenance/")
    assert city_side.url == f"{ageo}/staff/vendor/maintenance/", city_side.url
    assert_accessible(city_side)
    section = city_side.locator("section", has_text=TITLE)
    section.get_by_label("承認する").check()
    section.get_by_label("コメント（任意）").fill("承認します")
    with city_side.expect_navigation():
        section.get_by_role("button", name="回答する").click()
    assert "承認しました" in city_side.locator("main").inner_text()
    assert_accessible(city_side)

    resident.goto(f"{ageo}/")
    banner = resident.locator(".maintenance").inner_text()
    assert TITLE in banner
    assert "メンテナンスの予定" in banner
    assert_accessible(resident)
    resident.goto(f"{okegawa}/")
    assert TITLE not in resident.locator("body").inner_text()

    vendor_side.reload()
    assert "承認" in vendor_side.locator("section", has_text=TITLE).inner_text()


ISSUANCE_TITLE = "交付システムの更新（ブラウザ試験）"


@pytest.fixture
def issuance_window(django_db_blocker: Any, server_port: int) -> Iterator[None]:
    """An approved window of ageo's issuance pages, in progress now (ageo's booking pages stay up)."""
    from django.core.cache import cache

    from console.maintenance.tests.helpers import decide, move_window, propose, supervisor

    with django_db_blocker.unblock():
        city = Municipality.objects.get(slug="ageo")
        proposal = propose([city], modules=["issuance"], title=ISSUANCE_TITLE)
        decide(city, proposal, user=supervisor(city, "browser-maint-issuance-boss"))
        move_window(proposal, timezone.now() - timedelta(minutes=10), hours=1)
        with schema_context("ageo"):
            cache.clear()
    yield
    with django_db_blocker.unblock():
        with schema_context("public"):
            MaintenanceProposal.objects.filter(title_ja=ISSUANCE_TITLE).delete()
        with schema_context("ageo"):
            User.objects.filter(username="browser-maint-issuance-boss").delete()
            cache.clear()


def test_the_maintenance_page_is_in_the_citys_colours_and_leads_back_to_the_open_top_page(
    browser: Any, server_port: int, issuance_window: None
) -> None:
    ageo = f"http://ageo.localhost:{server_port}"
    resident = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP", bypass_csp=True)
    page = resident.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    response = page.goto(f"{ageo}/n/abc/")
    assert response is not None
    assert response.status == 503
    failed.remove(f"503 {ageo}/n/abc/")
    page.wait_for_load_state("load")
    assert "上尾市" in page.locator("header").inner_text()
    colour = page.evaluate("getComputedStyle(document.querySelector('.site-header')).backgroundColor")
    top_colour = resident.new_page()
    top_colour.goto(f"{ageo}/")
    assert colour == top_colour.evaluate(
        "getComputedStyle(document.querySelector('.site-header')).backgroundColor"
    )
    # The top page shows the window's notice, spaced from the header rather than stuck to it.
    gap = top_colour.evaluate(
        "document.querySelector('.maintenance .notice').getBoundingClientRect().top"
        " - document.querySelector('.site-header').getBoundingClientRect().bottom"
    )
    assert gap >= 16, gap
    assert_accessible(page)
    with page.expect_navigation():
        page.get_by_role("link", name="トップページへ戻る").click()
    assert page.url == f"{ageo}/"
    assert failed == []  # no stylesheet, icon (/favicon.ico) or theme request failed
    resident.close()
