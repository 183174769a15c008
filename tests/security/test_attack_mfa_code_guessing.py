"""Issue 10, item 2: after a correct password, guessing the second-factor code is locked like guessing passwords.

As reported: 100 wrong TOTP codes in a row drew no 429 and no lock, and the right code was still accepted. Now the
account locks after LOCKOUT_ACCOUNT_FAILURES wrong codes (the address after LOCKOUT_ADDRESS_FAILURES), with the
same AccountLock rows as passwords (supervisors see and release them), every wrong code is audited and counted as
an attack sign, and while the lock lasts the right code opens nothing, from this address or any other.
"""

from __future__ import annotations

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from apps.security import lockout
from apps.security.audit_models import AuditEvent
from apps.security.counters import Hit, counters_at_least
from apps.security.models import AccountLock, Role, User
from tenants.models import Municipality
from tests.factories import PASSWORD, UserFactory, login_as, supervisor_user, totp_code, with_totp

LOGIN = "/accounts/login/"
CODE = "/accounts/2fa/authenticate/"
REAUTHENTICATE = "/accounts/2fa/reauthenticate/"
LOCKED = "一時的にロックされています"


def _wrong_codes(secret: str, count: int) -> list[str]:
    valid = {format_hotp_value(hotp_value(secret, counter)) for counter in yield_hotp_counters_from_time()}
    return [code for code in (f"{n:06d}" for n in range(count + len(valid))) if code not in valid][:count]


@pytest.fixture
def victim(city: Municipality) -> tuple[User, str]:
    with schema_context(city.schema_name):
        user = UserFactory(username="suzuki", role=Role.STAFF)
        return user, with_totp(user)


def _password_step(client: Client, **extra: str) -> None:
    response = client.post(LOGIN, {"login": "suzuki", "password": PASSWORD}, **extra)  # type: ignore[arg-type]
    assert response.status_code == 302
    assert response["Location"].startswith(CODE)


def _count(city: Municipality, action: str) -> int:
    with schema_context(city.schema_name):
        return AuditEvent.objects.filter(action=action).count()


def _signs_from(address: str) -> int:
    return sum(
        count for key, count in counters_at_least("signs:", 1, public=True) if key.endswith(f":{address}")
    )


def test_a_hundred_wrong_codes_lock_the_account_and_the_right_code_is_then_refused(
    city: Municipality, victim: tuple[User, str]
) -> None:
    _user, secret = victim
    client = Client(HTTP_HOST="ageo.localhost")
    _password_step(client)
    answers = [client.post(CODE, {"code": code}) for code in _wrong_codes(secret, 100)]

    first_locked = next(i for i, answer in enumerate(answers) if LOCKED in answer.content.decode())
    assert first_locked == settings.LOCKOUT_ACCOUNT_FAILURES  # the 6th guess meets the lock: well before 100
    assert all(LOCKED in answer.content.decode() for answer in answers[first_locked:])
    assert all(not answer.wsgi_request.user.is_authenticated for answer in answers)

    refused = client.post(CODE, {"code": totp_code(secret)})
    assert LOCKED in refused.content.decode()
    assert not refused.wsgi_request.user.is_authenticated
    assert client.get("/staff/").status_code == 302

    with schema_context(city.schema_name):
        lock = AccountLock.objects.get()
    assert (lock.kind, lock.key, lock.failures) == ("account", "suzuki", settings.LOCKOUT_ACCOUNT_FAILURES)
    assert (
        _count(city, "auth.mfa_failed") == settings.LOCKOUT_ACCOUNT_FAILURES
    )  # the guesses that were checked
    assert _count(city, "auth.lockout") == 1
    assert _signs_from("127.0.0.1") >= 100  # every guess, refused or checked, is an attack sign


def test_the_lock_also_stops_the_password_step(city: Municipality, victim: tuple[User, str]) -> None:
    _user, secret = victim
    client = Client(HTTP_HOST="ageo.localhost")
    _password_step(client)
    for code in _wrong_codes(secret, settings.LOCKOUT_ACCOUNT_FAILURES):
        client.post(CODE, {"code": code})
    again = Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR="127.0.0.9")
    response = again.post(
        LOGIN, {"login": "suzuki@example.jp", "password": PASSWORD}
    )  # the email spelling too
    assert response.status_code == 200
    assert LOCKED in response.content.decode()


def test_guesses_from_rotating_addresses_are_still_limited_per_account(
    city: Municipality, victim: tuple[User, str]
) -> None:
    _user, secret = victim
    client = Client(HTTP_HOST="ageo.localhost")
    _password_step(client, REMOTE_ADDR="127.0.1.1")
    answers = [
        client.post(CODE, {"code": code}, REMOTE_ADDR=f"127.0.{2 + n // 250}.{1 + n % 250}")
        for n, code in enumerate(_wrong_codes(secret, 100))
    ]
    assert LOCKED in answers[settings.LOCKOUT_ACCOUNT_FAILURES].content.decode()
    refused = client.post(CODE, {"code": totp_code(secret)}, REMOTE_ADDR="127.0.9.9")
    assert LOCKED in refused.content.decode()
    assert not refused.wsgi_request.user.is_authenticated
    with schema_context(city.schema_name):
        assert AccountLock.objects.filter(kind="account", key="suzuki").exists()


def test_many_accounts_guessed_from_one_address_lock_the_address(city: Municipality) -> None:
    per_account = settings.LOCKOUT_ACCOUNT_FAILURES
    accounts = -(
        -settings.LOCKOUT_ADDRESS_FAILURES // per_account
    )  # enough accounts to reach the address limit
    for index in range(accounts):
        with schema_context(city.schema_name):
            user = UserFactory(username=f"target{index}", role=Role.STAFF)
            secret = with_totp(user)
        client = Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR="127.0.0.66")
        client.post(LOGIN, {"login": user.username, "password": PASSWORD})
        for code in _wrong_codes(secret, per_account):
            client.post(CODE, {"code": code})
    with schema_context(city.schema_name):
        assert AccountLock.objects.filter(kind="address", key="127.0.0.66").exists()
        bystander = UserFactory(username="bystander", role=Role.STAFF)
        with_totp(bystander)
    # Every login from that address is refused now, even a correct password of an account never guessed at.
    same_address = Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR="127.0.0.66")
    assert LOCKED in same_address.post(LOGIN, {"login": "bystander", "password": PASSWORD}).content.decode()


def test_a_supervisor_sees_and_releases_the_lock_then_the_right_code_works(
    city: Municipality, victim: tuple[User, str]
) -> None:
    _user, secret = victim
    client = Client(HTTP_HOST="ageo.localhost")
    _password_step(client)
    for code in _wrong_codes(secret, settings.LOCKOUT_ACCOUNT_FAILURES):
        client.post(CODE, {"code": code})
    with schema_context(city.schema_name):
        boss = supervisor_user(username="boss")
        with_totp(boss)
        lock = AccountLock.objects.get(key="suzuki")
    supervisor = login_as(Client(HTTP_HOST="ageo.localhost"), boss, "ageo")
    assert "suzuki" in supervisor.get("/staff/security/locks/").content.decode()
    assert supervisor.post(f"/staff/security/locks/{lock.pk}/release/").status_code == 302

    accepted = client.post(CODE, {"code": totp_code(secret)})
    assert accepted.status_code == 302
    assert client.get("/staff/").status_code == 200


def test_reauthentication_codes_are_limited_too(city: Municipality, victim: tuple[User, str]) -> None:
    # A session left open on a counter PC: guessing the code to reach the recovery codes locks the same way.
    user, secret = victim
    client = login_as(Client(HTTP_HOST="ageo.localhost"), user, "ageo")
    for code in _wrong_codes(secret, settings.LOCKOUT_ACCOUNT_FAILURES):
        client.post(REAUTHENTICATE, {"code": code})
    refused = client.post(REAUTHENTICATE, {"code": totp_code(secret)})
    assert LOCKED in refused.content.decode()
    assert client.get("/accounts/2fa/recovery-codes/").status_code == 302
    assert _count(city, "auth.mfa_failed") == settings.LOCKOUT_ACCOUNT_FAILURES


def test_when_the_counter_store_fails_codes_are_refused(
    city: Municipality, victim: tuple[User, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _user, secret = victim
    client = Client(HTTP_HOST="ageo.localhost")
    _password_step(client)
    monkeypatch.setattr(
        lockout, "counter_peek", lambda key, **kwargs: Hit(count=2**31 - 1, retry_after=60, failed=True)
    )
    refused = client.post(CODE, {"code": totp_code(secret)})
    assert "現在ログインを受け付けられません" in refused.content.decode()
    assert not refused.wsgi_request.user.is_authenticated


def test_a_lock_in_one_city_does_not_reach_another(
    city: Municipality, other_city: Municipality, victim: tuple[User, str]
) -> None:
    _user, secret = victim
    with schema_context(other_city.schema_name):
        namesake = UserFactory(username="suzuki", role=Role.STAFF)
        other_secret = with_totp(namesake)
    client = Client(HTTP_HOST="ageo.localhost")
    _password_step(client)
    for code in _wrong_codes(secret, settings.LOCKOUT_ACCOUNT_FAILURES):
        client.post(CODE, {"code": code})
    okegawa = Client(HTTP_HOST="okegawa.localhost")
    _password_step(okegawa)
    assert okegawa.post(CODE, {"code": totp_code(other_secret)}).status_code == 302
    with schema_context(other_city.schema_name):
        assert not AccountLock.objects.exists()
        assert not AuditEvent.objects.filter(action="auth.mfa_failed").exists()
