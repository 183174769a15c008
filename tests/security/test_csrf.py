"""IPA 安全なウェブサイトの作り方 1-(vi) CSRF (cross-site request forgery).

Every state-changing request is a POST checked by Django's CsrfViewMiddleware (token in the form, and the Origin
header when the browser sends one); the session cookie is also SameSite=Lax. A forged POST gets the Japanese
"page expired" page (frontend/templates/403_csrf.html) with status 403, and changes nothing.

These tests use `Client(enforce_csrf_checks=True)`, as a browser would be checked. Later work adds its forms to
tests/security/targets.FORMS and they are checked here with no change to this module.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from tenants.models import Municipality
from tests.factories import PASSWORD
from tests.security.targets import (
    CITY_HOST,
    PUBLIC_HOST,
    FormTarget,
    Host,
    Role,
    case_id,
    client_for,
    form_cases,
    make_staff,
    relax_for_attacks,
    schema_of,
    sign_in,
)

EXPIRED = "ページの有効期限が切れました"


@pytest.fixture(autouse=True)
def _attack_settings(settings):
    relax_for_attacks(settings)


def browser(host: Host) -> Client:
    return Client(enforce_csrf_checks=True, HTTP_HOST=CITY_HOST if host == "city" else PUBLIC_HOST)


def signed_in_browser(host: Host, role: Role = "staff") -> Client:
    # Signing in is not what is tested here: it runs without the check, then the session moves to a checked client.
    relaxed = client_for(host)
    sign_in(relaxed, host, role=role)
    client = browser(host)
    client.cookies = relaxed.cookies
    return client


def browser_for(host: Host, form: FormTarget) -> Client:
    if form.signed_in:
        return signed_in_browser(host, form.role)
    make_staff(host, form.role)
    return browser(host)


def token_from(client: Client, path: str) -> str:
    body = client.get(path).content.decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def assert_refused(response, what: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 403, what
    body = response.content.decode()
    assert EXPIRED in body, what
    assert 'lang="ja"' in body


@pytest.mark.parametrize(("host", "form"), form_cases("post"), ids=case_id)
def test_a_post_without_a_token_is_refused(city: Municipality, host: Host, form: FormTarget) -> None:
    assert_refused(browser_for(host, form).post(form.path, form.data), form.name)


@pytest.mark.parametrize(("host", "form"), form_cases("post"), ids=case_id)
def test_a_post_with_another_browsers_token_is_refused(
    city: Municipality, host: Host, form: FormTarget
) -> None:
    attacker = browser(host)
    stolen = token_from(attacker, "/accounts/login/")
    victim = browser_for(host, form)
    response = victim.post(form.path, {**form.data, "csrfmiddlewaretoken": stolen})
    assert_refused(response, form.name)


def test_login_with_the_pages_own_token_is_accepted(city: Municipality) -> None:
    # The control: the same POST with the page's token gets through (a sign-in, or the second-factor step).
    make_staff("city")
    client = browser("city")
    token = token_from(client, "/accounts/login/")
    response = client.post(
        "/accounts/login/", {"login": "tanaka", "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


def test_a_token_with_a_foreign_origin_is_refused(city: Municipality) -> None:
    make_staff("city")
    client = browser("city")
    token = token_from(client, "/accounts/login/")
    response = client.post(
        "/accounts/login/",
        {"login": "tanaka", "password": PASSWORD, "csrfmiddlewaretoken": token},
        HTTP_ORIGIN="https://evil.example",
    )
    assert_refused(response, "Origin: https://evil.example")


@pytest.mark.parametrize("host", ["city", "public"])
def test_forged_logout_keeps_the_user_signed_in(city: Municipality, host: Host) -> None:
    client = signed_in_browser(host)
    assert_refused(client.post("/accounts/logout/"), "logout")
    assert client.get("/").wsgi_request.user.is_authenticated


def test_forged_password_change_changes_nothing(city: Municipality) -> None:
    client = signed_in_browser("city")
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": "attacker-Chosen-2026", "password2": "attacker-Chosen-2026"},
    )
    assert_refused(response, "password change")
    with schema_context(schema_of("city")):
        from apps.security.models import User

        assert User.objects.get(username="tanaka").check_password(PASSWORD)


def test_forged_language_switch_sets_no_language(city: Municipality) -> None:
    client = browser("city")
    assert_refused(client.post("/i18n/setlang/", {"language": "en", "next": "/"}), "setlang")
    assert client.get("/")["Content-Language"] == "ja"


def test_the_expired_page_is_english_for_an_english_browser(city: Municipality) -> None:
    response = Client(enforce_csrf_checks=True, HTTP_HOST=CITY_HOST, HTTP_ACCEPT_LANGUAGE="en").post(
        "/accounts/login/", {"login": "tanaka", "password": PASSWORD}
    )
    assert response.status_code == 403
    body = response.content.decode()
    assert "This page has expired" in body
    assert EXPIRED not in body
