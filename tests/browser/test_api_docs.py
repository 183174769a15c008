"""Swagger UI and Redoc opened in Chromium from inside the city's networks (loopback is allowed in the test cities):
both pages run under the site's Content-Security-Policy without a single refusal, show the operations with their
Japanese summaries, load the English schema with `?lang=en`, Swagger's "Try it out" calls the API with a key
typed into "Authorize", and Redoc's search (a worker from a blob: address) finds an operation.

Refusals are read from Chromium's own reports (DevTools' Audits domain, and the console's "Content Security Policy"
messages): a listener in the page would itself be a script the CSP has to allow.

Each page is photographed for docs/api.md: with MADOGUCHI_SCREENSHOTS=1 the pictures replace
docs/images/api-docs-swagger.png and api-docs-redoc.png, otherwise they go to the test's temporary folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation
from django_tenants.utils import schema_context

from apps.security.actors import SYSTEM
from apps.security.api_keys import api_key_create
from apps.security.models import ApiKey, ApiScope

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"
KEY_NAME = "ブラウザ試験のAPI説明"
# Redoc's sidebar ends with "API docs by Redocly" and a logo from Redocly's CDN. The CSP keeps the browser from
# contacting anyone but us (img-src 'self' data:); Redoc then drops the image and keeps the text. The one refusal
# we expect, and the only one allowed.
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@dataclass
class Watched:
    """What Chromium reported while the page ran: CSP refusals, console errors, uncaught errors, schema loads."""

    refusals: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    schema_urls: list[str] = field(default_factory=list)

    def unexpected_refusals(self) -> list[str]:
        return [refusal for refusal in self.refusals if REDOCLY_LOGO not in refusal]


def url(port: int, path: str) -> str:
    return f"http://ageo.localhost:{port}{path}"


def watch(page: Any) -> Watched:
    watched = Watched()

    def on_issue(event: dict[str, Any]) -> None:
        issue = event["issue"]
        if issue["code"] == "ContentSecurityPolicyIssue":
            details = issue["details"]["contentSecurityPolicyIssueDetails"]
            watched.refusals.append(f"{details['violatedDirective']}: {details.get('blockedURL', 'inline')}")

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            watched.refusals.append(message.text)
        elif message.type == "error" and "favicon.ico" not in str(message.location.get("url")):
            watched.errors.append(message.text)

    cdp = page.context.new_cdp_session(page)
    cdp.on("Audits.issueAdded", on_issue)
    cdp.send("Audits.enable")
    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    page.on("request", lambda r: watched.schema_urls.append(r.url) if "/api/v1/schema/" in r.url else None)
    return watched


def swagger_operation(page: Any, path: str) -> Any:
    """Swagger UI's block of the operation at `path` (exactly: not the paths below it)."""
    return page.locator(
        ".opblock", has=page.locator(".opblock-summary-path", has_text=re.compile(rf"^{re.escape(path)}$"))
    )


def schema_queries(watched: Watched) -> list[str]:
    """The query string of every schema request the page made."""
    return [address.split("/api/v1/schema/", 1)[1] for address in watched.schema_urls]


def screenshot(page: Any, name: str, tmp_path: Path) -> None:
    picture = IMAGES / name if os.environ.get("MADOGUCHI_SCREENSHOTS") == "1" else tmp_path / name
    page.screenshot(path=str(picture))


@pytest.fixture
def docs_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def api_token(django_db_blocker: Any, server_port: int) -> Iterator[str]:
    with django_db_blocker.unblock(), schema_context("ageo"):
        issued = api_key_create(name=KEY_NAME, scopes=(ApiScope.SLOTS_READ,), expires_at=None, actor=SYSTEM)
    yield issued.token
    with django_db_blocker.unblock(), schema_context("ageo"):
        ApiKey.objects.filter(name=KEY_NAME).delete()


def _english(source: str) -> str | None:
    """The English catalogue's text for `source`, or None while the lead has not translated it yet."""
    with translation.override("en"):
        english = str(translation.gettext(source))
    return None if english == source else english


def test_swagger_ui_shows_the_operations_in_japanese_under_the_csp(
    docs_page: Any, server_port: int, tmp_path: Path
) -> None:
    page = docs_page
    watched = watch(page)
    page.goto(url(server_port, "/api/v1/docs/"))

    purposes = swagger_operation(page, "/api/v1/purposes/")
    assert purposes.locator(".opblock-summary-description").inner_text() == "用件の一覧"
    availability = swagger_operation(page, "/api/v1/availability/")
    assert availability.locator(".opblock-summary-description").inner_text() == "空き状況"
    for tag in ("slots", "content", "cards"):
        assert page.locator(f"#operations-tag-{tag}").is_visible(), tag
    assert schema_queries(watched) == [""]
    screenshot(page, "api-docs-swagger.png", tmp_path)

    assert watched.unexpected_refusals() == []
    assert watched.errors == []


def test_swagger_ui_loads_the_english_schema_with_lang_en(docs_page: Any, server_port: int) -> None:
    page = docs_page
    watched = watch(page)
    page.goto(url(server_port, "/api/v1/docs/?lang=en"))

    purposes = swagger_operation(page, "/api/v1/purposes/")
    summary = purposes.locator(".opblock-summary-description")
    summary.wait_for()
    assert schema_queries(watched) == ["?lang=en"]
    assert page.locator("html").get_attribute("lang") == "en"
    english = _english("用件の一覧")
    if english is None:
        pytest.xfail("the English catalogue has no text for 用件の一覧 yet")
    assert summary.inner_text() == english
    assert watched.unexpected_refusals() == []


def test_swagger_ui_tries_a_call_with_the_key_typed_into_authorize(
    docs_page: Any, server_port: int, api_token: str
) -> None:
    page = docs_page
    watched = watch(page)
    page.goto(url(server_port, "/api/v1/docs/"))

    page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".modal-ux")
    dialog.locator("input").fill(api_token)
    dialog.get_by_role("button", name="Apply credentials").click()
    dialog.get_by_role("button", name="Close").click()

    purposes = swagger_operation(page, "/api/v1/purposes/")
    purposes.locator(".opblock-summary").click()
    purposes.get_by_role("button", name="Try it out").click()
    with page.expect_response(lambda r: "/api/v1/purposes/" in r.url) as answer:
        purposes.get_by_role("button", name="Execute").click()
    assert answer.value.status == 200
    assert answer.value.request.headers["authorization"] == f"Bearer {api_token}"
    live = purposes.locator(".live-responses-table tbody tr.response").first
    assert live.locator(".response-col_status").inner_text().strip() == "200"
    assert '"code": "pickup"' in live.locator(".response-col_description").inner_text()  # the city's purposes
    # persistAuthorization is off: the key lives in the tab's memory only, in no storage of the browser.
    stored = page.evaluate("JSON.stringify([{...localStorage}, {...sessionStorage}, document.cookie])")
    assert api_token not in stored
    assert watched.unexpected_refusals() == []
    assert watched.errors == []


@pytest.mark.parametrize("lang", ["", "en"])
def test_redoc_shows_the_operations_under_the_csp(
    docs_page: Any, server_port: int, tmp_path: Path, lang: str
) -> None:
    page = docs_page
    watched = watch(page)
    page.goto(url(server_port, "/api/v1/redoc/" + (f"?lang={lang}" if lang else "")))

    purposes_ja, availability_ja = "用件の一覧", "空き状況"
    summary = (_english(purposes_ja) or purposes_ja) if lang else purposes_ja
    purposes = page.locator("[data-section-id$='/operation/purposes_list']")
    purposes.locator("h2", has_text=re.compile(rf"^{summary}\s*$")).wait_for()
    assert purposes.get_by_text("/api/v1/purposes/", exact=True).is_visible()
    assert schema_queries(watched) == ([f"?lang={lang}"] if lang else [""])
    assert page.locator("html").get_attribute("lang") == (lang or "ja")
    if not lang:
        # The sidebar lists the operations by their summaries and scrolls to the one chosen.
        menu = page.locator(".menu-content")
        menu.get_by_text("slots", exact=True).click()
        menu.get_by_text(availability_ja, exact=True).click()
        page.wait_for_url(re.compile(r"#tag/slots/operation/availability_list$"))
        availability = page.locator("[data-section-id$='/operation/availability_list'] h2")
        assert availability.inner_text().strip() == availability_ja
        assert availability.is_visible()
        screenshot(page, "api-docs-redoc.png", tmp_path)
        # The search runs in a worker made from a blob: address (worker-src blob: on this page only).
        page.get_by_placeholder("Search...").fill("purposes")
        results = page.locator("[data-role='search:results'] li")
        results.first.wait_for()
        assert [text.split()[-1] for text in results.all_inner_texts()] == [purposes_ja]

    assert watched.unexpected_refusals() == []
    assert watched.errors == []
