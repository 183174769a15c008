"""The vendor console's cities end to end: an operator creates a city with the keyboard only (its first network, its
first supervisor invited by mail), suspends it (its resident host answers with the suspended page) and resumes it;
a support user sees the cities without the controls that change them; an admin opens the vendor users' roles. axe
checks every console page on the way."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context

from console.access import VendorRole
from tenants.models import Municipality
from tenants.services import municipality_delete, municipality_set_status
from tests.browser.pages import Account, assert_accessible, log_in, vendor_user, vendor_users_retire
from tests.browser.test_counter import focused, tab_until
from tests.browser.test_resident_booking import _mail_to, _text_part

SLUG = "kitamoto"
CITY = "北本市"
HOST = f"{SLUG}.localhost"
SUPERVISOR_EMAIL = "kitamoto-boss@example.jp"
USERS = {
    VendorRole.OPERATOR: "browser-console-op",
    VendorRole.SUPPORT: "browser-console-sup",
    VendorRole.ADMIN: "browser-console-admin",
}
# The create form's fields in their Tab order, with what the operator types (the first try's code is short).
FIELDS = [
    ("slug", SLUG),
    ("lg_code", "1123"),
    ("name_ja", CITY),
    ("name_en", "Kitamoto City"),
    ("prefecture", "埼玉県"),
    ("contact_email", "info@city.kitamoto.example"),
    ("contact_phone", "048-591-1111"),
    ("host", HOST),
    ("network_cidr", "192.0.2.0/24"),
    ("network_label", "本庁舎 市民課"),
    ("supervisor_username", "kitamoto-boss"),
    ("supervisor_email", SUPERVISOR_EMAIL),
    ("supervisor_name", "北本 太郎"),
]
OPTIONS = {"viewport": {"width": 1280, "height": 900}, "locale": "ja-JP", "bypass_csp": True}


@pytest.fixture
def vendor_account(django_db_blocker: Any, server_port: int) -> Iterator[Callable[[VendorRole], Account]]:
    """Makes the vendor user of a role (signed in with a second factor); made inactive afterwards."""
    made: list[str] = []

    def make(role: VendorRole) -> Account:
        name = USERS[role]
        with django_db_blocker.unblock():
            made.append(name)
            return vendor_user(name, role)

    yield make
    with django_db_blocker.unblock():
        vendor_users_retire(*made)


@pytest.fixture
def city_removed_after(django_db_blocker: Any) -> Iterator[None]:
    """The city the test creates, removed afterwards (suspended first: only a suspended city can be deleted)."""
    yield
    with django_db_blocker.unblock(), schema_context("public"):
        city = Municipality.objects.filter(slug=SLUG).first()
        if city is not None:
            municipality_set_status(municipality=city, status=Municipality.Status.SUSPENDED)
            municipality_delete(municipality=city)


def _choose_status(page: Any, label: str, reason: str) -> None:
    page.get_by_label("新しい状態").select_option(label=label)
    page.get_by_label("理由").fill(reason)
    with page.expect_navigation():
        page.get_by_role("button", name="状態を変更する").click()
    assert f"状態を「{label}」にしました。" in page.locator("main").inner_text()
    assert page.locator("#city-status").inner_text() == label


def test_an_operator_creates_suspends_and_resumes_a_city(
    browser: Any, server_port: int, vendor_account: Callable[[VendorRole], Account], city_removed_after: None
) -> None:
    console = f"http://localhost:{server_port}"
    page = browser.new_context(**OPTIONS).new_page()
    log_in(page, console, vendor_account(VendorRole.OPERATOR), then="/console/")
    assert page.url == f"{console}/console/", page.url
    assert page.locator("h1").inner_text() == "管理コンソール"
    assert_accessible(page)
    with page.expect_navigation():
        page.get_by_role("navigation", name="コンソールのメニュー").get_by_role("link", name="自治体").click()
    assert_accessible(page)
    with page.expect_navigation():
        page.get_by_role("link", name="自治体を登録する").click()
    assert page.locator("h1").inner_text() == "自治体の登録"
    assert_accessible(page)

    # The keyboard only: Tab from the top of the page to the first field, then type and Tab through every field
    # in order to the submit button.
    tab_until(page, name="slug")
    for index, (name, value) in enumerate(FIELDS):
        assert focused(page)["name"] == name, (name, focused(page))
        page.keyboard.type(value)
        if index < len(FIELDS) - 1:
            page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    now = focused(page)
    assert (now["tag"], now["text"]) == ("BUTTON", "登録する"), now
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "入力内容を確認してください" in page.locator(".error-summary").inner_text()
    assert "全国地方公共団体コードは6桁の数字です" in page.locator(".error-summary").inner_text()
    assert page.get_by_label("識別子").input_value() == SLUG  # what was typed is kept
    assert_accessible(page)
    code = page.get_by_label("全国地方公共団体コード")
    code.focus()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("112330")
    tab_until(page, tag="BUTTON", text="登録する")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    assert page.url == f"{console}/console/cities/{SLUG}/", page.url
    assert f"{CITY} を登録し、管理者に招待メールを送りました。" in page.locator("main").inner_text()
    assert page.locator("#city-status").inner_text() == "稼働中"
    assert "192.0.2.0/24" in page.locator("main").inner_text()  # the first allowed network
    assert_accessible(page)
    invitation = _mail_to(SUPERVISOR_EMAIL)
    assert f"http://{HOST}" in _text_part(invitation)  # the link to set a password, on the new city's host

    page.goto(f"{console}/console/cities/")
    row = page.locator("tbody tr", has_text=CITY)
    assert "稼働中" in row.inner_text()
    with page.expect_navigation():
        row.get_by_role("link", name=CITY).click()

    resident = browser.new_context(**OPTIONS).new_page()
    assert resident.goto(f"http://{HOST}:{server_port}/").status == 200
    page.get_by_label("新しい状態").select_option(label="停止中")
    with page.expect_navigation():
        page.get_by_role("button", name="状態を変更する").click()  # no reason given
    assert page.locator(".error-summary").count() == 1  # one summary of the errors, one alert
    assert "理由" in page.locator(".error-summary").inner_text()
    assert page.locator("#city-status").inner_text() == "稼働中"
    assert_accessible(page)
    _choose_status(page, "停止中", "契約内容の確認のため")
    assert_accessible(page)
    answer = resident.goto(f"http://{HOST}:{server_port}/")
    assert answer.status == 503
    assert resident.locator("h1").inner_text() == "サービスを一時停止しています"
    page.goto(f"{console}/console/cities/?status=suspended")
    assert "停止中" in page.locator("tbody tr", has_text=CITY).inner_text()

    with page.expect_navigation():
        page.get_by_role("link", name=CITY).click()
    _choose_status(page, "稼働中", "確認が終わったため")
    assert resident.goto(f"http://{HOST}:{server_port}/").status == 200


def test_a_support_user_sees_the_cities_but_cannot_change_them(
    browser: Any, server_port: int, vendor_account: Callable[[VendorRole], Account]
) -> None:
    console = f"http://localhost:{server_port}"
    page = browser.new_context(**OPTIONS).new_page()
    log_in(page, console, vendor_account(VendorRole.SUPPORT), then="/console/cities/")
    assert page.url == f"{console}/console/cities/", page.url
    table = page.locator("tbody").inner_text()
    assert "上尾市" in table
    assert "桶川市" in table
    assert page.get_by_role("link", name="自治体を登録する").count() == 0
    assert page.get_by_role("link", name="運営者ユーザーの役割").count() == 0
    assert_accessible(page)
    with page.expect_navigation():
        page.get_by_role("link", name="上尾市").click()
    assert page.locator("#city-status").inner_text() == "稼働中"
    assert page.get_by_role("button", name="状態を変更する").count() == 0
    assert page.get_by_label("新しい状態").count() == 0
    assert page.get_by_role("button", name="追加する").count() == 0
    assert_accessible(page)
    assert page.goto(f"{console}/console/cities/new/").status == 403
    page.goto(f"{console}/console/")
    assert page.get_by_role("link", name="自治体の登録").count() == 0


def test_an_admin_reads_the_vendor_users_roles(
    browser: Any, server_port: int, vendor_account: Callable[[VendorRole], Account]
) -> None:
    console = f"http://localhost:{server_port}"
    page = browser.new_context(**OPTIONS).new_page()
    log_in(page, console, vendor_account(VendorRole.ADMIN), then="/console/")
    with page.expect_navigation():
        page.get_by_role("link", name="運営者ユーザーの役割").click()
    assert page.locator("h1").inner_text() == "運営者ユーザーの役割"
    admin = USERS[VendorRole.ADMIN]
    assert page.locator("tbody tr", has_text=admin).get_by_label(f"{admin} の役割").input_value() == "admin"
    assert_accessible(page)
