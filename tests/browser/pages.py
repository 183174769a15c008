"""What the browser tests share: signing in with the second factor, and axe-core's accessibility check.

axe-core's script comes from the `axe-playwright-python` dev dependency (it ships `axe.min.js`), or from
`AXE_CORE_JS` to try another version. Missing, the check fails: a browser test that says "axe finds nothing" must
have run axe. The contexts that call it set `bypass_csp` (the pages' policy allows only their own scripts).
"""

from __future__ import annotations

import importlib.resources
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.factories import PASSWORD, UserFactory, totp_code, with_totp


@dataclass
class Account:
    username: str
    secret: str


@cache
def axe_source() -> str:
    configured = os.environ.get("AXE_CORE_JS", "")
    path = (
        Path(configured)
        if configured
        else Path(str(importlib.resources.files("axe_playwright_python"))) / "axe.min.js"
    )
    return path.read_text(encoding="utf-8")


def assert_accessible(page: Any) -> None:
    """axe-core's default rules (WCAG 2.1 A and AA among them) find no violation on the page as it is now."""
    page.add_script_tag(content=axe_source())
    result = page.evaluate("async () => (await axe.run(document)).violations.map(v => v.id + ': ' + v.help)")
    assert result == [], f"{page.url}: {result}"


def log_in(page: Any, base: str, account: Account, then: str) -> None:
    """Sign in on `base` (a city's host or the vendor's) with the password, then the authenticator code."""
    page.goto(f"{base}/accounts/login/?next={quote(then)}")
    page.get_by_label("ユーザー名またはメールアドレス").fill(account.username)
    page.get_by_label("パスワード").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_label("パスワード").press("Enter")
    code = page.get_by_label(re.compile(r"^コード"))
    code.fill(totp_code(account.secret))
    with page.expect_navigation():
        code.press("Enter")


def city_user(schema: str, username: str, role: Any) -> Account:
    """A city's staff account with the role and an authenticator app (call with the database unblocked)."""
    from django_tenants.utils import schema_context

    with schema_context(schema):
        user = UserFactory(username=username, email=f"{username}@example.jp", role=role)
        return Account(username, with_totp(user))


def vendor_user(username: str, role: Any) -> Account:
    """A vendor account on the public schema with the console role and an authenticator app (database unblocked)."""
    from django_tenants.utils import schema_context

    from console.vendor_users import vendor_groups_ensure

    with schema_context("public"):
        user = UserFactory(username=username, email=f"{username}@example.jp", is_staff=True)
        user.groups.add(vendor_groups_ensure()[role])
        return Account(username, with_totp(user))


def vendor_users_retire(*usernames: str) -> None:
    """Made inactive, not deleted: deleting would collect the city apps' rows that point at users, whose tables the
    public schema lacks."""
    from django_tenants.utils import schema_context

    from apps.security.models import User

    with schema_context("public"):
        User.objects.filter(username__in=usernames).update(is_active=False)
