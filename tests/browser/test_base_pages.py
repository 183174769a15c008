"""The base pages as a resident or a staff member sees them: Japanese, phone-sized, keyboard-usable, readable."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.security.models import User
from base.colors import contrast_ratio
from tests.factories import PASSWORD, staff_user


def url(port: int, host: str, path: str = "/") -> str:
    return f"http://{host}:{port}{path}"


@pytest.fixture
def committed_staff(django_db_blocker: Any, server_port: int) -> Iterator[User]:
    with django_db_blocker.unblock(), schema_context("ageo"):
        user = staff_user(username="browser-staff", email="browser-staff@example.jp")
    yield user
    with django_db_blocker.unblock(), schema_context("ageo"):
        User.objects.filter(pk=user.pk).delete()


def _rgb_to_hex(css: str) -> str:
    parts = css[css.index("(") + 1 : css.index(")")].split(",")[:3]
    return "#" + "".join(f"{int(float(p)):02x}" for p in parts)


def test_city_top_page_on_a_phone_in_japanese(phone: Any, server_port: int) -> None:
    phone.goto(url(server_port, "ageo.localhost"))
    assert phone.locator("html").get_attribute("lang") == "ja"
    assert "上尾市" in phone.locator("h1").inner_text()
    assert phone.locator("main").count() == 1
    assert phone.locator("header").count() >= 1
    # No horizontal scrolling on a phone.
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_first_tab_reaches_the_skip_link_and_it_moves_focus_to_main(phone: Any, server_port: int) -> None:
    phone.goto(url(server_port, "ageo.localhost"))
    phone.keyboard.press("Tab")
    focused = phone.evaluate("document.activeElement.textContent.trim()")
    assert focused == "本文へ移動"
    phone.keyboard.press("Enter")
    assert phone.evaluate("location.hash") == "#main"


def test_city_colours_keep_text_readable(phone: Any, server_port: int) -> None:
    phone.goto(url(server_port, "ageo.localhost"))
    header = phone.locator("header").first
    colour = header.evaluate("e => getComputedStyle(e).color")
    background = header.evaluate("e => getComputedStyle(e).backgroundColor")
    assert contrast_ratio(_rgb_to_hex(colour), _rgb_to_hex(background)) >= 4.5


def test_language_switch_by_keyboard_turns_the_page_english(desktop: Any, server_port: int) -> None:
    desktop.goto(url(server_port, "ageo.localhost"))
    switch = desktop.get_by_role("button", name="English")
    switch.focus()
    with desktop.expect_navigation():
        desktop.keyboard.press("Enter")
    assert desktop.locator("html").get_attribute("lang") == "en"
    assert "Ageo" in desktop.locator("h1").inner_text()


def test_staff_logs_in_and_out_with_the_keyboard(
    desktop: Any, server_port: int, committed_staff: User
) -> None:
    desktop.goto(url(server_port, "ageo.localhost", "/accounts/login/"))
    login = desktop.get_by_label("ユーザー名またはメールアドレス")
    login.focus()
    desktop.keyboard.type("browser-staff")
    desktop.keyboard.press("Tab")
    assert desktop.evaluate("document.activeElement.type") == "password"
    desktop.keyboard.type(PASSWORD)
    desktop.keyboard.press("Enter")
    desktop.wait_for_url(url(server_port, "ageo.localhost", "/"))
    assert desktop.get_by_role("button", name="ログアウト").is_visible()


def test_staff_login_of_one_city_fails_at_another(
    desktop: Any, server_port: int, committed_staff: User
) -> None:
    desktop.goto(url(server_port, "okegawa.localhost", "/accounts/login/"))
    desktop.get_by_label("ユーザー名またはメールアドレス").fill("browser-staff")
    desktop.get_by_label("パスワード").fill(PASSWORD)
    with desktop.expect_navigation():
        desktop.get_by_label("パスワード").press("Enter")
    assert "/accounts/login/" in desktop.url
    assert desktop.get_by_role("alert").count() >= 1


def test_unknown_host_explains_itself(phone: Any, server_port: int) -> None:
    response = phone.goto(url(server_port, "kumagaya.localhost"))
    assert response.status == 404
    assert "kumagaya.localhost" in phone.locator("main").inner_text()
