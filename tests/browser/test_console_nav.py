"""The console's menu as a vendor user sees it: the section shown is filled (not only announced by aria-current),
and every entry, ホーム included, sits on the same line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from console.access import VendorRole
from tests.browser.pages import Account, assert_accessible, log_in, vendor_user, vendor_users_retire

NAME = "browser-console-nav"


@pytest.fixture
def operator(django_db_blocker: Any, server_port: int) -> Iterator[Account]:
    with django_db_blocker.unblock():
        account = vendor_user(NAME, VendorRole.OPERATOR)
    yield account
    with django_db_blocker.unblock():
        vendor_users_retire(NAME)


def test_the_current_section_is_filled_and_the_entries_are_aligned(
    browser: Any, server_port: int, operator: Account
) -> None:
    console = f"http://localhost:{server_port}"
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP", bypass_csp=True)
    page = context.new_page()
    log_in(page, console, operator, then="/console/cities/")
    links = page.get_by_role("navigation", name="コンソールのメニュー").get_by_role("link")
    current = page.locator('.console-nav a[aria-current="page"]')
    assert current.inner_text() == "自治体"
    background = "el => getComputedStyle(el).backgroundColor"
    others = page.locator('.console-nav a:not([aria-current="page"])')
    assert others.count() >= 3
    assert current.evaluate(background) not in {
        others.nth(i).evaluate(background) for i in range(others.count())
    }
    tops = {round(links.nth(i).bounding_box()["y"]) for i in range(links.count())}
    assert len(tops) == 1, tops  # one row: ホーム is not higher than the rest
    assert_accessible(page)
    context.close()
