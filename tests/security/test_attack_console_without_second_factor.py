"""Issue 10, item 1: the vendor console behind the second factor, and one login path for everyone.

As reported: `/console/login/` was Django admin's own login, password only and no lockout; the right password
opened `/console/` with no second factor; `/accounts/2fa/` then let that session read the recovery codes or remove
the TOTP, because the staff middleware checked that the user *had* a TOTP, not that the session had passed it.
"""

from __future__ import annotations

from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from apps.security.models import AccountLock, Role, User
from tenants.models import Municipality
from tests.factories import PASSWORD, UserFactory, login_as, totp_code, with_totp

CONSOLE = "/console/"
ADMIN = "/console/admin/"
CONSOLE_LOGIN = "/console/admin/login/"  # Django admin's own login page, which only forwards to allauth's
LOGIN = "/accounts/login/"
CODE = "/accounts/2fa/authenticate/"
REAUTHENTICATE = "/accounts/2fa/reauthenticate/"


def _vendor() -> tuple[User, str]:
    vendor = User.objects.create_superuser("ops", "ops@vendor.example", PASSWORD)
    return vendor, with_totp(vendor)


def _password_only_session(client: Client, user: User, schema: str) -> Client:
    """A session signed in without the second factor, as any path that checks only the password would make."""
    with schema_context(schema):
        client.force_login(user)
    return client


def test_the_console_login_is_allauths_login(public_client: Client) -> None:
    assert public_client.get(CONSOLE)["Location"] == f"{LOGIN}?next=%2Fconsole%2F"
    response = public_client.get(ADMIN)
    assert response.status_code == 302
    assert response["Location"].startswith(CONSOLE_LOGIN)
    login_page = public_client.get(response["Location"])
    assert login_page.status_code == 302
    assert login_page["Location"] == f"{LOGIN}?next=%2Fconsole%2Fadmin%2F"


def test_a_password_posted_to_the_console_login_signs_nobody_in(public_client: Client) -> None:
    _vendor()
    response = public_client.post(CONSOLE_LOGIN, {"username": "ops", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert not response.wsgi_request.user.is_authenticated
    assert public_client.get(CONSOLE).status_code == 302


def test_the_vendor_logs_in_with_password_and_code(public_client: Client) -> None:
    _vendor_user, secret = _vendor()
    first = public_client.post(f"{LOGIN}?next=/console/", {"login": "ops", "password": PASSWORD})
    assert first.status_code == 302
    assert first["Location"].startswith(CODE)
    assert public_client.get(CONSOLE).status_code == 302  # the password alone opens nothing
    second = public_client.post(CODE, {"code": totp_code(secret)})
    assert second.status_code == 302
    assert second["Location"] == CONSOLE
    assert public_client.get(CONSOLE).status_code == 200


def test_ten_wrong_vendor_passwords_lock_the_vendor(public_client: Client) -> None:
    _vendor()
    for _ in range(10):
        public_client.post(LOGIN, {"login": "ops", "password": "wrong-password-xyz"})
    refused = public_client.post(LOGIN, {"login": "ops", "password": PASSWORD})
    assert "一時的にロックされています" in refused.content.decode()
    assert not refused.wsgi_request.user.is_authenticated
    assert AccountLock.objects.filter(kind="account", key="ops").exists()
    assert settings.LOCKOUT_ACCOUNT_FAILURES < 10


def test_a_session_without_the_second_factor_reaches_no_console_page(public_client: Client) -> None:
    vendor, secret = _vendor()
    client = _password_only_session(public_client, vendor, "public")
    for path in (
        CONSOLE,
        "/console/admin/tenants/municipality/",
        "/console/admin/security/user/",
        "/staff/audit/",
    ):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(REAUTHENTICATE), path
    # Entering the code makes it a full login, and the page asked for comes back.
    answer = client.post(f"{REAUTHENTICATE}?next=/console/", {"code": totp_code(secret)})
    assert answer.status_code == 302
    assert answer["Location"] == CONSOLE
    assert client.get(CONSOLE).status_code == 200


def test_a_session_without_the_second_factor_cannot_read_codes_or_remove_the_app(
    public_client: Client,
) -> None:
    from allauth.mfa.models import Authenticator

    vendor, _secret = _vendor()
    client = _password_only_session(public_client, vendor, "public")
    for path in ("/accounts/2fa/", "/accounts/2fa/recovery-codes/", "/accounts/2fa/recovery-codes/download/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(REAUTHENTICATE), path
    removal = client.post("/accounts/2fa/totp/deactivate/")
    assert removal.status_code == 302
    assert removal["Location"].startswith(REAUTHENTICATE)
    assert Authenticator.objects.filter(user=vendor, type=Authenticator.Type.TOTP).exists()
    # The password does not stand in for the code: the password reauthentication page is not offered.
    password_page = client.get("/accounts/reauthenticate/")
    assert password_page.status_code == 302
    assert password_page["Location"].startswith(REAUTHENTICATE)
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert client.get(CONSOLE).status_code == 302


def test_city_staff_pages_need_the_second_factor_of_this_session(city: Municipality) -> None:
    with schema_context(city.schema_name):
        user = UserFactory(username="kimura", role=Role.SUPERVISOR)
        secret = with_totp(user)
    client = _password_only_session(Client(HTTP_HOST="ageo.localhost"), user, "ageo")
    for path in ("/staff/", "/staff/security/networks/", "/accounts/2fa/recovery-codes/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(REAUTHENTICATE), path
    assert client.post(REAUTHENTICATE, {"code": totp_code(secret)}).status_code == 302
    assert client.get("/staff/").status_code == 200


def test_the_second_factor_of_one_session_is_not_another_sessions(city: Municipality) -> None:
    with schema_context(city.schema_name):
        user = UserFactory(username="hara", role=Role.STAFF)
        with_totp(user)
    full = login_as(Client(HTTP_HOST="ageo.localhost"), user, "ageo")
    other = _password_only_session(Client(HTTP_HOST="ageo.localhost"), user, "ageo")
    assert full.get("/staff/").status_code == 200
    assert other.get("/staff/").status_code == 302


def test_a_user_without_a_second_factor_is_still_sent_to_set_one_up(public_client: Client) -> None:
    vendor = User.objects.create_superuser("newops", "newops@vendor.example", PASSWORD)
    login_as(public_client, vendor, "public")
    response = public_client.get(CONSOLE)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/"
    assert public_client.get("/accounts/2fa/").status_code == 200


def test_a_city_account_is_refused_at_the_console(city: Municipality, public_client: Client) -> None:
    # A city's supervisor (no vendor account) has no login on the vendor host at all.
    with schema_context(city.schema_name):
        boss = UserFactory(username="ageo-boss", role=Role.SUPERVISOR)
        secret = with_totp(boss)
    public_client.post(LOGIN, {"login": "ageo-boss", "password": PASSWORD})
    public_client.post(CODE, {"code": totp_code(secret)})
    assert public_client.get(CONSOLE).status_code == 302


def test_a_vendor_account_that_is_not_staff_is_refused_at_the_console(public_client: Client) -> None:
    clerk = User.objects.create_user("clerk", "clerk@vendor.example", PASSWORD)
    with_totp(clerk)
    login_as(public_client, clerk, "public")
    assert public_client.get(CONSOLE_LOGIN).status_code == 403
    assert public_client.get(CONSOLE).status_code == 403  # no console role
    assert public_client.get(ADMIN).status_code == 302  # to Django admin's login, which refuses (above)
