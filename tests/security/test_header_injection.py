"""IPA 安全なウェブサイトの作り方 1-(vii) HTTP header injection (response splitting).

The code never writes a request value into a response header by hand: redirects go through Django, which
percent-encodes or refuses line breaks in a Location, and the request id is echoed only when it is a plain token
(madoguchi.middleware). These tests put CR/LF in every spelling into the redirect parameters, the request id,
the Host header and every query string, and assert that no header or cookie of the attacker's appears.

Later work adds its pages without touching this module: pages are walked from both URLconfs (targets.paths); a
view that redirects to a request value or sets a header from one adds its parameter here.
"""

from __future__ import annotations

import pytest
from django.http import HttpResponseBase
from django.test import Client, override_settings

from tenants.models import Municipality
from tests.factories import PASSWORD
from tests.security.payloads import CRLF, INJECTED_HEADERS
from tests.security.targets import (
    CITY_HOST,
    HOSTS,
    Host,
    client_for,
    make_staff,
    paths,
    relax_for_attacks,
    sign_in,
)


@pytest.fixture(autouse=True)
def _attack_settings(settings):
    relax_for_attacks(settings)


def assert_no_injected_header(response: HttpResponseBase, what: str) -> None:
    assert response.status_code < 500, what
    names = {name.lower() for name in response.headers}
    for injected in INJECTED_HEADERS:
        assert injected.lower() not in names, f"{what}: header {injected} injected"
        assert injected not in response.cookies, f"{what}: cookie {injected} injected"
    for name, value in response.headers.items():
        assert "\r" not in value, f"{what}: CR in {name}"
        assert "\n" not in value, f"{what}: LF in {name}"


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("payload", CRLF)
def test_language_switch_next(city: Municipality, host: Host, payload: str) -> None:
    client = client_for(host)
    for target in (payload, "/" + payload, "/?a=" + payload):
        response = client.post("/i18n/setlang/", {"language": "en", "next": target})
        assert_no_injected_header(response, f"setlang next={target!r}")
        response = client.post("/i18n/setlang/", {"language": "en"}, HTTP_REFERER=target)
        assert_no_injected_header(response, f"setlang Referer={target!r}")


@pytest.mark.parametrize("payload", CRLF)
def test_login_and_logout_next(city: Municipality, payload: str) -> None:
    make_staff("city")
    client = client_for("city")
    response = client.post(f"/accounts/login/?next=/{payload}", {"login": "tanaka", "password": PASSWORD})
    assert_no_injected_header(response, "login next")
    response = client.post(
        "/accounts/login/", {"login": "tanaka", "password": PASSWORD, "next": "/" + payload}
    )
    assert_no_injected_header(response, "login form next")
    signed_in = client_for("city")
    sign_in(signed_in, "city")
    assert_no_injected_header(signed_in.post("/accounts/logout/", {"next": "/" + payload}), "logout next")


@pytest.mark.parametrize("payload", CRLF)
def test_request_id_header_is_echoed_only_when_plain(city: Municipality, payload: str) -> None:
    response = Client(HTTP_HOST=CITY_HOST, HTTP_X_REQUEST_ID="abcdefgh" + payload).get("/")
    assert_no_injected_header(response, "X-Request-ID")
    assert payload not in response["X-Request-ID"]


@override_settings(TRUSTED_PROXIES=["127.0.0.1/32"])
def test_a_plain_request_id_is_echoed(city: Municipality) -> None:
    # The control: our proxy's well-formed id is kept, so logs of both can be joined (from anyone else it is
    # replaced: tests/security/test_attack_request_id_spoofing.py).
    response = Client(HTTP_HOST=CITY_HOST, HTTP_X_REQUEST_ID="req-1234abcd").get("/")
    assert response["X-Request-ID"] == "req-1234abcd"


@pytest.mark.parametrize("payload", CRLF)
def test_host_header(db: None, payload: str) -> None:
    response = Client(HTTP_HOST=CITY_HOST + payload).get("/")
    assert response.status_code in (400, 404)  # django-tenants answers a malformed Host with a plain 404
    assert_no_injected_header(response, "Host")


@pytest.mark.parametrize("host", HOSTS)
def test_query_strings_on_every_page(city: Municipality, host: Host) -> None:
    client = client_for(host)
    for path in paths(host):
        response = client.get(path, {"next": CRLF, "lang": CRLF, "q": CRLF})
        assert_no_injected_header(response, path)


def test_the_check_sees_an_injected_header() -> None:
    # The control: the assertion above does fail on a split response.
    from django.http import HttpResponse

    response = HttpResponse()
    response["X-Injected"] = "1"
    with pytest.raises(AssertionError):
        assert_no_injected_header(response, "control")
