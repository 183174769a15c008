"""A supervisor makes an API key through the pages in a real browser: logs in, enters a code again (a recovery code:
allauth refuses the login's code twice within its period), fills the form, sees the key once with its copy button,
and the key works at the API; a reload shows it no more."""

from __future__ import annotations

import json
import os
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django_tenants.utils import schema_context

from apps.security.models import ApiKey, Role, User
from tests.factories import PASSWORD, UserFactory, totp_code, with_totp
from tests.live_server import ROOT

USERNAME = "browser-keys-boss"
KEY_NAME = "ブラウザ試験の連携"
TOKEN = re.compile(r"^mdg_[a-z0-9]{8}_[A-Za-z0-9_-]{20,}$")


@dataclass
class Supervisor:
    user: User
    secret: str
    recovery_code: str


def url(port: int, path: str) -> str:
    return f"http://ageo.localhost:{port}{path}"


@pytest.fixture
def supervisor(django_db_blocker: Any, server_port: int) -> Iterator[Supervisor]:
    with django_db_blocker.unblock(), schema_context("ageo"):
        user = UserFactory(username=USERNAME, email=f"{USERNAME}@example.jp", role=Role.SUPERVISOR)
        secret = with_totp(user)
        RecoveryCodes.activate(user)
        codes = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES).wrap()
        recovery_code = codes.get_unused_codes()[0]
    yield Supervisor(user, secret, recovery_code)
    with django_db_blocker.unblock(), schema_context("ageo"):
        ApiKey.objects.filter(name=KEY_NAME).delete()
        User.objects.filter(pk=user.pk).delete()


def _call_api(port: int, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/purposes/",
        headers={"Host": "ageo.localhost", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (the test server, http)
        return response.status, json.loads(response.read())


def _screenshot(page: Any, name: str, tmp_path: Path) -> None:
    """With MADOGUCHI_SCREENSHOTS=1 into docs/images (the staff guide), otherwise the test's temporary folder."""
    folder = ROOT / "docs" / "images" if os.environ.get("MADOGUCHI_SCREENSHOTS") == "1" else tmp_path
    page.screenshot(path=str(folder / name), full_page=True)


def test_a_supervisor_creates_a_key_and_sees_it_once(
    desktop: Any, server_port: int, supervisor: Supervisor, tmp_path: Path
) -> None:
    page, port = desktop, server_port
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)

    page.goto(url(port, f"/accounts/login/?next={quote('/staff/')}"))
    page.get_by_label("ユーザー名またはメールアドレス").fill(USERNAME)
    page.get_by_label("パスワード").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_label("パスワード").press("Enter")
    code = page.get_by_label(re.compile(r"^コード"))
    code.fill(totp_code(supervisor.secret))
    with page.expect_navigation():
        code.press("Enter")

    with page.expect_navigation():
        page.get_by_role("link", name="APIキー", exact=True).click()
    with page.expect_navigation():
        page.get_by_role("link", name="APIキーを作成").click()
    # The second factor again before the form: the reauthentication page comes back here.
    with page.expect_navigation():
        page.get_by_role("link", name="コードを入力して続ける").click()
    assert "/accounts/2fa/reauthenticate/" in page.url, page.url
    code = page.get_by_label(re.compile(r"^コード"))
    code.fill(supervisor.recovery_code)
    with page.expect_navigation():
        code.press("Enter")
    assert page.url.endswith("/staff/security/api-keys/new/"), page.url

    page.get_by_label("名称").fill(KEY_NAME)
    page.get_by_role("checkbox", name=re.compile(r"空き状況の参照（slots:read）")).check()
    _screenshot(page, "api-keys-new.png", tmp_path)
    with page.expect_navigation():
        page.get_by_role("button", name="作成する").click()

    assert page.url.endswith("/staff/security/api-keys/issued/"), page.url
    token = page.get_by_label("APIキー", exact=True).input_value()
    assert TOKEN.match(token), token
    assert page.get_by_role("button", name="コピー").is_visible()  # the script ran (no inline script: CSP)
    assert _call_api(port, token)[0] == 200

    page.reload()
    assert token not in page.content()
    assert "表示できるキーはありません" in page.content()
    with page.expect_navigation():
        page.get_by_role("link", name="APIキーの一覧へ戻る").click()
    row = page.locator("tr", has=page.locator("td", has_text=KEY_NAME))
    assert "有効" in row.inner_text()
    _screenshot(page, "api-keys-list.png", tmp_path)
    assert token not in page.content()
    assert csp_errors == []
