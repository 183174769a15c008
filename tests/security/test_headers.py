"""Response headers on every kind of page, pages without inline script or style, and the city's stylesheet.

Clickjacking (IPA 1-(9)) is answered by `frame-ancestors 'none'` and `X-Frame-Options: DENY`; XSS (1-(5)) is
limited by a CSP without 'unsafe-inline'. HSTS needs production settings: see
platform/madoguchi/tests/test_deploy_check.py.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.booking.calendar.services import appearance_update
from apps.booking.models import SiteAppearance
from tenants.models import Municipality

ROOT = Path(__file__).resolve().parents[2]
CITY_HOST = "ageo.localhost"
VENDOR_HOST = "localhost"
AGEO_RED = "#8B1A1A"  # white on it: 9.8:1
OKEGAWA_GREEN = "#1B5E20"  # white on it: 7.9:1

# (host, path): both hosts' pages, error pages, a static file and the city's stylesheet. Add new kinds of page here.
PAGES = [
    (CITY_HOST, "/"),
    (CITY_HOST, "/accounts/login/"),
    (CITY_HOST, "/accounts/password/reset/"),
    (CITY_HOST, "/theme.css"),
    (CITY_HOST, "/no-such-page/"),
    (CITY_HOST, "/static/css/base.css"),
    (VENDOR_HOST, "/"),
    (VENDOR_HOST, "/accounts/login/"),
    (VENDOR_HOST, "/console/admin/login/"),
    (VENDOR_HOST, "/theme.css"),
    ("kumagaya.localhost", "/"),
]


def _csp(response: object) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]  # type: ignore[attr-defined]
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {name: values for name, *values in directives}


@pytest.mark.parametrize(("host", "path"), PAGES)
def test_every_page_sends_the_security_headers(city: Municipality, host: str, path: str) -> None:
    response = Client(HTTP_HOST=host).get(path)

    csp = _csp(response)
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    permissions = response.headers["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in permissions
    assert "publickey-credentials-get=(self)" in permissions


def test_unknown_host_is_a_404_with_the_headers(db: None) -> None:
    response = Client(HTTP_HOST="kumagaya.localhost").get("/")
    assert response.status_code == 404
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


class _InlineCode(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' would block: inline scripts, handlers, style elements/attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "style":
            self.found.append("<style> element")
        if "style" in names:
            self.found.append(f"style= on <{tag}>")
        self.found.extend(f"{name}= on <{tag}>" for name in names if name.startswith("on"))
        if any((value or "").strip().lower().startswith("javascript:") for value in names.values()):
            self.found.append(f"javascript: URL on <{tag}>")
        # A data block (JSON) is never executed, so the CSP allows it; anything else inline is a script.
        data_block = (names.get("type") or "").lower() in ("application/json", "application/ld+json")
        self._in_inline_script = tag == "script" and "src" not in names and not data_block

    def handle_endtag(self, tag: str) -> None:
        self._in_inline_script = False

    def handle_data(self, data: str) -> None:
        if self._in_inline_script and data.strip():
            self.found.append(f"inline <script>: {data.strip()[:40]}")


def inline_code(html: str) -> list[str]:
    parser = _InlineCode()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize(
    ("host", "path"), [(host, path) for host, path in PAGES if not path.endswith(".css")]
)
def test_html_pages_have_no_inline_script_or_style(city: Municipality, host: str, path: str) -> None:
    response = Client(HTTP_HOST=host).get(path)
    assert response["Content-Type"].startswith("text/html")
    assert inline_code(response.content.decode()) == []


def test_the_checker_finds_what_the_csp_would_block() -> None:
    assert inline_code('<p style="color:red" onclick="x()">') == ["style= on <p>", "onclick= on <p>"]
    assert inline_code("<style>p{}</style><script>alert(1)</script>") == [
        "<style> element",
        "inline <script>: alert(1)",
    ]
    assert (
        inline_code('<script src="/static/a.js"></script><script type="application/json">{}</script>') == []
    )


def _template_files() -> list[Path]:
    return sorted((ROOT / "frontend" / "templates").rglob("*.html"))


@pytest.mark.parametrize("template", _template_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_our_templates_have_no_inline_script_or_style(template: Path) -> None:
    """Pages not reachable in these tests yet are covered too: the rule is in the template source."""
    source = template.read_text(encoding="utf-8")
    # Template tags are not HTML; blank them so that `{% if %}` inside a tag does not confuse the parser.
    assert inline_code(re.sub(r"{%.*?%}|{{.*?}}|{#.*?#}", "x", source, flags=re.DOTALL)) == []


def _colour_cities(city: Municipality, other_city: Municipality) -> None:
    with schema_context(city.schema_name):
        appearance_update(primary_color=AGEO_RED, phone="048-775-5111")
    with schema_context(other_city.schema_name):
        appearance_update(primary_color=OKEGAWA_GREEN, phone="048-786-3211")


def test_each_city_stylesheet_has_its_own_colour_and_nothing_else(
    city: Municipality, other_city: Municipality, city_client: Client, other_city_client: Client
) -> None:
    _colour_cities(city, other_city)

    ageo = city_client.get("/theme.css")
    okegawa = other_city_client.get("/theme.css")

    assert ageo.status_code == 200
    assert ageo["Content-Type"] == "text/css; charset=utf-8"
    assert ageo.content.decode() == f":root{{--city-primary:{AGEO_RED}}}\n"
    assert okegawa.content.decode() == f":root{{--city-primary:{OKEGAWA_GREEN}}}\n"


def test_the_vendor_host_has_no_city_stylesheet(public_client: Client) -> None:
    assert public_client.get("/theme.css").status_code == 404


def _theme_href(client: Client) -> str:
    html = client.get("/").content.decode()
    match = re.search(r'<link rel="stylesheet" href="(/theme\.css\?v=[^"]*)">', html)
    assert match, "base.html links the city's stylesheet"
    return match.group(1)


def test_pages_link_a_stylesheet_url_that_changes_with_the_colour(
    city: Municipality, other_city: Municipality, city_client: Client
) -> None:
    _colour_cities(city, other_city)
    before = _theme_href(city_client)
    with schema_context(city.schema_name):
        appearance_update(primary_color="#1D4E89", phone="048-775-5111")
    after = _theme_href(city_client)

    assert after != before
    # The linked URL names this content: browsers may keep it; any other version must be asked again.
    assert city_client.get(after).content.decode() == ":root{--city-primary:#1D4E89}\n"
    assert "immutable" in city_client.get(after)["Cache-Control"]
    assert city_client.get(before)["Cache-Control"] == "no-cache"
    assert city_client.get("/theme.css")["Cache-Control"] == "no-cache"


def test_the_stylesheet_never_carries_anything_but_a_colour(city: Municipality, city_client: Client) -> None:
    with schema_context(city.schema_name):
        appearance_update(primary_color=AGEO_RED, phone="")
        # Past the model's validator, as a direct database edit would be.
        SiteAppearance.objects.filter(pk=1).update(primary_color="red}*{x")

    body = city_client.get("/theme.css").content.decode()

    assert body == ":root{--city-primary:#1d4e89}\n"
