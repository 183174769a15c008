"""Issue 10, item 1: managing the second factor needs the second factor again, not the password.

A session that passed the second factor at login but is then left open (a shared counter PC), or whose password
leaked, must not read the recovery codes, remove the authenticator app or add one of its own without a fresh code.
"""

from __future__ import annotations

import time

import pytest
from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.conf import settings
from django.test import Client, RequestFactory
from django_tenants.utils import schema_context

from apps.security.mfa_session import session_recently_reauthenticated_mfa
from apps.security.models import Role, User
from tenants.models import Municipality
from tests.factories import PASSWORD, UserFactory, login_as, totp_code, with_totp

REAUTHENTICATE = "/accounts/2fa/reauthenticate/"
RECOVERY_CODES = "/accounts/2fa/recovery-codes/"


@pytest.fixture
def signed_in(city: Municipality) -> tuple[Client, User, str]:
    with schema_context(city.schema_name):
        user = UserFactory(username="matsuda", role=Role.STAFF)
        secret = with_totp(user)
        RecoveryCodes.activate(user)
    return login_as(Client(HTTP_HOST="ageo.localhost"), user, "ageo"), user, secret


def _has_totp(city: Municipality, user: User) -> bool:
    with schema_context(city.schema_name):
        return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


@pytest.mark.parametrize(
    "path",
    [
        RECOVERY_CODES,
        f"{RECOVERY_CODES}download/",
        f"{RECOVERY_CODES}generate/",
        "/accounts/2fa/totp/deactivate/",
        "/accounts/2fa/webauthn/",
        "/accounts/2fa/webauthn/add/",
    ],
)
def test_every_management_page_asks_for_the_code_again(
    signed_in: tuple[Client, User, str], path: str
) -> None:
    client, _user, _secret = signed_in
    assert client.get("/staff/").status_code == 200  # a full login
    for response in (client.get(path), client.post(path, {})):
        assert response.status_code == 302, path
        assert response["Location"].startswith(REAUTHENTICATE), path


def test_the_overview_needs_no_second_prompt(signed_in: tuple[Client, User, str]) -> None:
    client, _user, _secret = signed_in
    assert client.get("/accounts/2fa/").status_code == 200


def test_the_password_does_not_reauthenticate_a_user_who_has_a_second_factor(
    city: Municipality, signed_in: tuple[Client, User, str]
) -> None:
    client, user, _secret = signed_in
    page = client.get(f"/accounts/reauthenticate/?next={RECOVERY_CODES}")
    assert page.status_code == 302
    assert page["Location"].startswith(REAUTHENTICATE)
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert client.get(RECOVERY_CODES)["Location"].startswith(REAUTHENTICATE)
    client.post("/accounts/2fa/totp/deactivate/")
    assert _has_totp(city, user)


def test_a_fresh_code_opens_the_recovery_codes_then_expires(
    city: Municipality, signed_in: tuple[Client, User, str]
) -> None:
    client, user, secret = signed_in
    answer = client.post(f"{REAUTHENTICATE}?next={RECOVERY_CODES}", {"code": totp_code(secret)})
    assert answer.status_code == 302
    assert answer["Location"] == RECOVERY_CODES
    page = client.get(RECOVERY_CODES)
    assert page.status_code == 200
    with schema_context(city.schema_name):
        codes = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES).wrap()
        assert codes.get_unused_codes()[0] in page.content.decode()

    session = client.session  # the reauthentication was longer ago than the timeout
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {**record, "at": record["at"] - settings.ACCOUNT_REAUTHENTICATION_TIMEOUT - 1}
        for record in session[AUTHENTICATION_METHODS_SESSION_KEY]
    ]
    session.save()
    assert client.get(RECOVERY_CODES)["Location"].startswith(REAUTHENTICATE)


def test_a_fresh_code_lets_the_owner_remove_the_app(
    city: Municipality, signed_in: tuple[Client, User, str]
) -> None:
    client, user, secret = signed_in
    client.post(REAUTHENTICATE, {"code": totp_code(secret)})
    assert client.post("/accounts/2fa/totp/deactivate/").status_code == 302
    assert not _has_totp(city, user)


def test_a_user_without_a_second_factor_sets_one_up_with_the_password(city: Municipality) -> None:
    # Nothing to prove yet: allauth's own reauthentication (the password) guards adding the first app.
    with schema_context(city.schema_name):
        user = UserFactory(username="sato", role=Role.SUPERVISOR)
    client = login_as(Client(HTTP_HOST="ageo.localhost"), user, "ageo")
    assert client.get("/staff/")["Location"] == "/accounts/2fa/"
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/reauthenticate/")
    client.post(page["Location"], {"password": PASSWORD})
    assert client.get("/accounts/2fa/totp/activate/").status_code == 200


def test_adding_an_app_counts_as_a_fresh_second_factor(city: Municipality) -> None:
    from allauth.mfa import signals

    with schema_context(city.schema_name):
        user = UserFactory(username="ono", role=Role.STAFF)
        with_totp(user)
        app = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    request = RequestFactory().post("/accounts/2fa/totp/activate/")
    request.session = Client().session
    request.user = user
    signals.authenticator_added.send(sender=Authenticator, request=request, user=user, authenticator=app)
    assert session_recently_reauthenticated_mfa(request, user)
    records = request.session[AUTHENTICATION_METHODS_SESSION_KEY]
    assert records[-1]["method"] == "mfa"
    assert time.time() - records[-1]["at"] < 5
