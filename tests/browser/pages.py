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

from tests.factories import PASSWORD, totp_code


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
