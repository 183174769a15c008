"""IPA 安全なウェブサイトの作り方 1-(v) cross-site scripting.

Templates escape every value (Django's autoescape; no `|safe` on user input), the CSP forbids inline script
(test_headers.py), and rich text that cities publish goes through frontend.sanitize (nh3). These tests reflect
script payloads through every channel a page echoes: the Host header (unknown-host page), `next`, query
strings on every page, and form values re-rendered after an error; and they run the sanitiser on them.

Later work adds its pages without touching this module: forms go into tests/security/targets.FORMS, pages are
walked from both URLconfs (targets.paths). A page that shows rich text adds a test that stores a payload through
its own form and reads the page back.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.http import HttpResponseBase
from django.test import Client

from base.sanitize import sanitize_rich_text
from tenants.models import Municipality
from tests.security.payloads import XSS, XSS_RAW_MARKERS
from tests.security.targets import (
    CITY_HOST,
    HOSTS,
    FormTarget,
    Host,
    case_id,
    client_for,
    form_cases,
    paths,
    prepare,
    relax_for_attacks,
    sign_in,
    submit,
)


@pytest.fixture(autouse=True)
def _attack_settings(settings):
    relax_for_attacks(settings)


class _ScriptFinder(HTMLParser):
    """What a browser would run: event-handler attributes, javascript: URLs, and script elements with a payload."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if (value or "").strip().lower().startswith(
                ("javascript:", "data:text/html")
            ) and name in URL_ATTRIBUTES:
                self.found.append(f"<{tag} {name}={value!r}>")
        self._in_script = tag == "script"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._in_script = False

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and "alert" in data:
            self.found.append(f"<script>{data[:40]}")


URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "srcdoc"}


def script_vectors(html: str) -> list[str]:
    finder = _ScriptFinder()
    finder.feed(html)
    finder.close()
    return finder.found


def assert_not_reflected_raw(response: HttpResponseBase, what: str) -> None:
    assert response.status_code < 500, what
    if getattr(response, "streaming", False):
        return  # static files: nothing is reflected
    body = response.content.decode("utf-8", "replace")  # type: ignore[attr-defined]
    assert script_vectors(body) == [], what
    lowered = body.lower()
    for marker in XSS_RAW_MARKERS:
        assert marker.lower() not in lowered, f"{what}: {marker!r} reflected unescaped"


@pytest.mark.parametrize("payload", XSS)
def test_host_header_is_never_reflected_raw(db: None, payload: str) -> None:
    # Django refuses a Host that is not a host name (400) before any page could echo it.
    response = Client(HTTP_HOST=payload).get("/")
    assert response.status_code in (400, 404)
    assert_not_reflected_raw(response, f"Host: {payload!r}")


def test_unknown_host_page_escapes_what_it_shows(db: None) -> None:
    # What passes Django's host check is letters, digits, dots and hyphens, and it is shown escaped anyway.
    response = Client(HTTP_HOST="x-onload-alert-1.localhost").get("/")
    assert response.status_code == 404
    assert "x-onload-alert-1.localhost" in response.content.decode()


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("signed_in", [False, True], ids=["signed-out", "supervisor"])
def test_query_strings_are_never_reflected_raw(city: Municipality, host: Host, signed_in: bool) -> None:
    client = client_for(host)
    if signed_in:
        sign_in(client, host, role="supervisor")
    for path in paths(host):
        for name in ("next", "q", "error", "message", "lang"):
            assert_not_reflected_raw(client.get(path, {name: XSS}), f"{path}?{name}=")
        assert_not_reflected_raw(client.get(path, {f"p{i}": p for i, p in enumerate(XSS)}), path)


@pytest.mark.parametrize("payload", XSS)
def test_login_next_is_never_reflected_raw(city: Municipality, payload: str) -> None:
    response = client_for("city").get("/accounts/login/", {"next": payload})
    assert response.status_code == 200
    assert_not_reflected_raw(response, f"next={payload!r}")


@pytest.mark.parametrize(("host", "form"), form_cases(), ids=case_id)
def test_form_values_are_re_rendered_escaped(city: Municipality, host: Host, form: FormTarget) -> None:
    client = client_for(host)
    prepare(client, host, form)
    for field in form.text_fields:
        for payload in XSS:
            response = submit(client, form, {**form.data, field: payload})
            assert_not_reflected_raw(response, f"{form.name}.{field}={payload!r}")
    # What a form stored (a label, a name) is shown later: read the page back.
    assert_not_reflected_raw(client.get(form.shown_at or form.path), f"{form.name}: the page afterwards")


def test_the_login_name_comes_back_escaped_and_kept(city: Municipality) -> None:
    payload = '"><script>alert(document.cookie)</script>'
    response = client_for("city").post("/accounts/login/", {"login": payload, "password": "x"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "&quot;&gt;&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in body
    assert "<script>alert" not in body


def test_login_names_typed_by_an_attacker_are_escaped_in_the_audit_log(city: Municipality) -> None:
    # Failed logins are audited with the name typed: an attacker's name must not run in the supervisor's browser.
    attacker = client_for("city", REMOTE_ADDR="127.0.0.2")  # another machine of the allowed network
    for payload in XSS:
        attacker.post("/accounts/login/", {"login": payload, "password": "wrong-password-123"})
    supervisor = client_for("city")
    sign_in(supervisor, "city", role="supervisor")
    response = supervisor.get("/staff/audit/", {"action": "auth.login_failed"})
    assert response.status_code == 200
    assert_not_reflected_raw(response, "audit list")
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;" in response.content.decode()
    )  # the event is listed, escaped


def test_request_id_is_never_reflected_raw(city: Municipality) -> None:
    response = Client(HTTP_HOST=CITY_HOST, HTTP_X_REQUEST_ID="<script>alert(1)</script>").get("/")
    assert "<script>" not in response["X-Request-ID"]
    assert_not_reflected_raw(response, "X-Request-ID")


# --- Rich text (announcements): frontend.sanitize ---------------------------------------------------------------


@pytest.mark.parametrize("payload", XSS)
def test_sanitiser_removes_every_script_vector(payload: str) -> None:
    cleaned = sanitize_rich_text(f"<p>お知らせ{payload}</p>")
    assert script_vectors(cleaned) == []
    for tag in ("<script", "<iframe", "<svg", "<img", "<body"):
        assert tag not in cleaned.lower()


def test_the_script_finder_finds_what_a_browser_would_run() -> None:
    # The control for the checks above.
    assert script_vectors('<img src=x onerror="alert(1)">')
    assert script_vectors("<script>alert(1)</script>")
    assert script_vectors('<a href=" JavaScript:alert(1)">x</a>')
    assert script_vectors("<p>javascript:alert(1) &lt;script&gt;alert(1)&lt;/script&gt;</p>") == []


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (
            "<p>窓口の<strong>混雑</strong>は<em>午前</em>です</p>",
            "<p>窓口の<strong>混雑</strong>は<em>午前</em>です</p>",
        ),
        ("<h2>お知らせ</h2><h3>予約</h3>", "<h2>お知らせ</h2><h3>予約</h3>"),
        ("<ul><li>一</li></ul><ol><li>二</li></ol>", "<ul><li>一</li></ul><ol><li>二</li></ol>"),
        ("一行目<br>二行目", "一行目<br>二行目"),
        (
            '<a href="https://www.city.ageo.lg.jp/" target="_blank">上尾市</a>',
            '<a href="https://www.city.ageo.lg.jp/" rel="noopener noreferrer">上尾市</a>',
        ),
        (
            '<a href="mailto:info@city.example">連絡</a>',
            '<a href="mailto:info@city.example" rel="noopener noreferrer">連絡</a>',
        ),
        (
            '<a href="http://example.jp/">x</a>',
            '<a href="http://example.jp/" rel="noopener noreferrer">x</a>',
        ),
    ],
)
def test_sanitiser_keeps_what_an_announcement_needs(html: str, expected: str) -> None:
    assert sanitize_rich_text(html) == expected


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<img src="x" onerror="alert(1)">画像', "画像"),
        ('<p style="position:fixed" class="x" id="y" onclick="alert(1)">本文</p>', "<p>本文</p>"),
        ("<h1>見出し</h1><div>枠</div><span>字</span>", "見出し枠字"),
        ("<script>alert(1)</script>残る", "残る"),
        ("<style>body{display:none}</style>残る", "残る"),
        ("<p>本文<!-- <script>alert(1)</script> --></p>", "<p>本文</p>"),
        ('<form action="https://evil.example"><input name="pw"></form>', ""),
        ('<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ('<a href="&#106;avascript:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ('<a href="data:text/html,<script>alert(1)</script>">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ('<a href="//evil.example/">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ('<a href="/accounts/login/">x</a>', '<a rel="noopener noreferrer">x</a>'),
        (
            '<a href="https://x.example/" rel="opener">x</a>',
            '<a href="https://x.example/" rel="noopener noreferrer">x</a>',
        ),
    ],
)
def test_sanitiser_drops_everything_else(html: str, expected: str) -> None:
    assert sanitize_rich_text(html) == expected


def test_sanitiser_output_is_stable() -> None:
    # Cleaning twice changes nothing: stored text can be cleaned again on output without drifting.
    once = sanitize_rich_text('<p>a<a href="https://x.example">b</a><script>c</script></p>')
    assert sanitize_rich_text(once) == once
