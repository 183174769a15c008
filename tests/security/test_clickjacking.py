"""IPA 安全なウェブサイトの作り方 1-(ix) clickjacking: no page of either host may be shown inside another site's frame.

Every page answers `X-Frame-Options: DENY` (and the CSP's `frame-ancestors 'none'`, asserted with the other
headers in test_headers.py). The pages are found by walking both URLconfs, so a page added later is checked the
day it is added; they are requested signed out and signed in, since staff pages differ. Error pages (unknown
host, not found, CSRF failure) are framed-denied too: an attacker may frame any URL.

Later work adds nothing here: routes with parameters are filled in by tests/security/targets (a regex route
needs an entry in targets.ROUTE_EXAMPLES; test_targets.py names it).
"""

from __future__ import annotations

import pytest
from django.http import HttpResponseBase
from django.test import Client

from tenants.models import Municipality
from tests.security.targets import CITY_HOST, HOSTS, Host, client_for, paths, relax_for_attacks, sign_in


@pytest.fixture(autouse=True)
def _attack_settings(settings):
    relax_for_attacks(settings)


def assert_frame_denied(response: HttpResponseBase, what: str) -> None:
    assert response.get("X-Frame-Options") == "DENY", f"{what}: {response.status_code}"


@pytest.mark.parametrize("host", HOSTS)
def test_every_page_denies_framing_signed_out(city: Municipality, host: Host) -> None:
    client = client_for(host)
    for path in paths(host):
        assert_frame_denied(client.get(path), path)


@pytest.mark.parametrize("host", HOSTS)
def test_every_page_denies_framing_signed_in(city: Municipality, host: Host) -> None:
    client = client_for(host)
    sign_in(client, host, role="supervisor")
    for path in paths(host):
        if path == "/accounts/logout/":
            continue  # a GET shows the confirmation page; keep the session for the other pages
        assert_frame_denied(client.get(path), path)
    assert_frame_denied(client.get("/accounts/logout/"), "/accounts/logout/")


@pytest.mark.parametrize("host", [CITY_HOST, "localhost", "unknown.localhost"])
def test_error_pages_deny_framing(city: Municipality, host: str) -> None:
    client = Client(HTTP_HOST=host)
    assert_frame_denied(client.get("/no-such-page/"), f"{host} 404")
    csrf = Client(HTTP_HOST=host, enforce_csrf_checks=True).post("/accounts/login/", {})
    assert_frame_denied(csrf, f"{host} POST without token")
