"""Never the 個人番号 (issue 4, item 9): the account pages refuse it, keep what was typed, and explain in Japanese.

The rule and its unit tests are in apps/security/mynumber.py and apps/security/tests/test_mynumber.py; here the
real pages are posted to. Later forms use RefusesIndividualNumber (forms) or RefusesIndividualNumberSerializer
(API) and add a case like these for their own page.
"""

from __future__ import annotations

import html

import pytest
from django.conf import settings
from django.core import mail
from django.utils.module_loading import import_string
from django_tenants.utils import schema_context

from apps.security import forms as security_forms
from apps.security.mynumber import RefusesIndividualNumber
from tenants.models import Municipality
from tests.factories import PASSWORD
from tests.security.targets import (
    HOSTS,
    NEW_PASSWORD,
    Host,
    client_for,
    make_staff,
    relax_for_attacks,
    sign_in,
)

MESSAGE = "個人番号（マイナンバー）は入力しないでください。この欄には入力できません。"
NUMBER = "1234 5678 9018"  # a valid 個人番号 written in groups


@pytest.fixture(autouse=True)
def _attack_settings(settings):
    relax_for_attacks(settings)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("ACCOUNT_FORMS", security_forms.ACCOUNT_FORMS), ("MFA_FORMS", security_forms.MFA_FORMS)],
)
def test_allauth_uses_the_refusing_forms(setting: str, expected: dict[str, str]) -> None:
    configured = getattr(settings, setting, {})
    for key in expected:
        assert key in configured, f"settings.{setting} lacks {key!r}"
        assert issubclass(import_string(configured[key]), RefusesIndividualNumber), key


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("typed", [NUMBER, "１２３４５６７８９０１８", "1234-5678-9018"])
def test_login_refuses_a_number_and_keeps_the_input(city: Municipality, host: Host, typed: str) -> None:
    make_staff(host)
    response = client_for(host).post("/accounts/login/", {"login": typed, "password": PASSWORD})
    assert response.status_code == 200
    body = response.content.decode()
    assert MESSAGE in body
    assert f'value="{html.escape(typed)}"' in body
    assert not response.wsgi_request.user.is_authenticated


def test_login_refuses_a_number_typed_as_the_password(city_client, city: Municipality) -> None:  # type: ignore[no-untyped-def]
    make_staff("city")
    response = city_client.post("/accounts/login/", {"login": "tanaka", "password": NUMBER})
    assert response.status_code == 200
    body = response.content.decode()
    assert MESSAGE in body
    assert 'value="tanaka"' in body  # the login name is kept
    assert NUMBER not in body  # a password is never sent back


def test_an_ordinary_login_still_works(city_client, city: Municipality) -> None:  # type: ignore[no-untyped-def]
    make_staff("city")
    response = city_client.post("/accounts/login/", {"login": "tanaka", "password": PASSWORD})
    assert response.status_code == 302


def test_password_reset_refuses_a_number_and_sends_nothing(city_client, city: Municipality) -> None:  # type: ignore[no-untyped-def]
    response = city_client.post("/accounts/password/reset/", {"email": "123456789018@example.jp"})
    assert response.status_code == 200
    body = response.content.decode()
    assert MESSAGE in body
    assert "123456789018@example.jp" in body
    assert mail.outbox == []


def test_a_new_password_holding_a_number_is_refused(city: Municipality) -> None:
    client = client_for("city")
    staff = sign_in(client, "city")
    new = f"Pass {NUMBER} word"
    response = client.post(
        "/accounts/password/change/", {"oldpassword": PASSWORD, "password1": new, "password2": new}
    )
    assert response.status_code == 200
    assert MESSAGE in response.content.decode()
    with schema_context(city.schema_name):
        staff.refresh_from_db()
        assert staff.check_password(PASSWORD)
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
