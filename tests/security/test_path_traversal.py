"""IPA 安全なウェブサイトの作り方 1-(iii) directory traversal, and its cousin on redirects: open redirect.

No view opens a file named by the request: static files come from whitenoise's index of the static folders,
templates by fixed names. These tests send dot segments in every spelling (raw, percent-encoded, double-encoded,
overlong UTF-8, backslashes, NUL) to the static prefix and to every page, and assert that no response ever carries
a file's contents. Redirect parameters (`next=` of the language switch, login and logout, and the Referer the
language switch falls back to) must never send a browser to another site.

Later work adds its pages without touching this module: pages are walked from both URLconfs (targets.paths);
a view that takes a file name or a redirect target adds a test here with its own parameter.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.http import HttpResponseBase
from django.test import Client

from tenants.models import Municipality
from tests.factories import PASSWORD
from tests.security.payloads import LEAK_MARKERS, OPEN_REDIRECTS, PATH_TRAVERSAL
from tests.security.targets import (
    CITY_HOST,
    HOSTS,
    PUBLIC_HOST,
    Host,
    client_for,
    current_totp_code,
    make_staff,
    paths,
    relax_for_attacks,
    sign_in,
)

PREFIXES = ["/static/", "/static/css/", "/", "/accounts/", "/console/", "/i18n/"]


@pytest.fixture(autouse=True)
def _attack_settings(settings):
    relax_for_attacks(settings)


def _body(response: HttpResponseBase) -> str:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    else:
        content = response.content  # type: ignore[attr-defined]
    return content.decode("utf-8", "replace")


def assert_no_leak(response: HttpResponseBase, what: str) -> None:
    assert response.status_code < 500, what
    body = _body(response)
    for marker in LEAK_MARKERS:
        assert marker not in body, f"{what}: {marker!r} in the response"


def assert_stays_on_site(response: HttpResponseBase, host: str, what: str) -> None:
    """A redirect, if any, goes to a path on this host: never another host, scheme-relative URL or script."""
    if response.status_code not in (301, 302, 303, 307, 308):
        return
    location = response["Location"]
    parts = urlsplit(location)
    assert parts.scheme in ("", "http", "https"), f"{what}: {location!r}"
    assert parts.netloc in ("", host), f"{what}: {location!r}"
    # Browsers skip leading blanks and read a backslash as a slash: "//x", "/\\x" and "\\\\x" are another host.
    # A relative reference such as "%2f%2fx" stays on this host.
    assert not location.lstrip("".join(map(chr, range(33)))).replace("\\", "/").startswith("//"), (
        f"{what}: {location!r}"
    )
    assert not any(ch in location for ch in "\r\n\t"), f"{what}: {location!r}"


@pytest.mark.parametrize("host", [CITY_HOST, PUBLIC_HOST, "unknown.localhost"])
@pytest.mark.parametrize("prefix", PREFIXES)
def test_dot_segments_never_read_a_file(city: Municipality, host: str, prefix: str) -> None:
    client = Client(HTTP_HOST=host)
    for payload in PATH_TRAVERSAL:
        response = client.get(prefix + payload)
        assert_no_leak(response, prefix + payload)
        assert response.status_code != 200, prefix + payload


def test_a_real_static_file_is_served(city: Municipality) -> None:
    # The control for the test above: the static prefix does serve files, only not outside its folders.
    response = Client(HTTP_HOST=CITY_HOST).get("/static/css/base.css")
    assert response.status_code == 200


@pytest.mark.parametrize("host", HOSTS)
def test_file_names_in_query_strings_read_nothing(city: Municipality, host: Host) -> None:
    client = client_for(host)
    query = dict.fromkeys(("file", "path", "template", "next", "page", "lang"), PATH_TRAVERSAL)
    for path in paths(host):
        assert_no_leak(client.get(path, query), path)


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_language_switch_never_redirects_off_site(city: Municipality, host: Host, target: str) -> None:
    client = client_for(host)
    response = client.post("/i18n/setlang/", {"language": "en", "next": target})
    assert_stays_on_site(response, client_for(host).defaults["HTTP_HOST"], f"next={target!r}")
    response = client.post("/i18n/setlang/", {"language": "en"}, HTTP_REFERER=target)
    assert_stays_on_site(response, client_for(host).defaults["HTTP_HOST"], f"Referer: {target!r}")
    response = client.get("/i18n/setlang/", {"language": "en", "next": target})
    assert_stays_on_site(response, client_for(host).defaults["HTTP_HOST"], f"GET next={target!r}")


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_login_never_redirects_off_site(city: Municipality, target: str) -> None:
    client = client_for("city")
    make_staff("city")
    response = client.post(f"/accounts/login/?next={target}", {"login": "tanaka", "password": PASSWORD})
    assert_stays_on_site(response, CITY_HOST, f"login next={target!r}")
    response = client.post(
        "/accounts/login/", {"login": "tanaka", "password": PASSWORD, "next": target}, follow=False
    )
    assert_stays_on_site(response, CITY_HOST, f"login form next={target!r}")
    if response.status_code == 302 and response["Location"].startswith("/accounts/2fa/authenticate/"):
        response = client.post("/accounts/2fa/authenticate/", {"code": current_totp_code()})
        assert_stays_on_site(response, CITY_HOST, f"second factor after next={target!r}")


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_logout_never_redirects_off_site(city: Municipality, target: str) -> None:
    client = client_for("city")
    sign_in(client, "city")
    response = client.post("/accounts/logout/", {"next": target})
    assert_stays_on_site(response, CITY_HOST, f"logout next={target!r}")
