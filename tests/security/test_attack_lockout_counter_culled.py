"""Issue 10, item 5: without Redis, 450 booking look-ups at okegawa erased ageo's failed-login counter.

Django's database cache kept 300 entries for the whole deployment and deleted a third when full, so the sixth wrong
password at ageo no longer locked. Security counters now live in a table of each city's schema that nothing culls:
however much another city (or the attacker there) writes, ageo's count goes on.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from apps.security.models import AccountLock, Role
from tenants.models import Municipality
from tests.factories import UserFactory

LOCKED = "一時的にロックされています"


def _wrong_password(client: Client) -> str:
    response = client.post("/accounts/login/", {"login": "tanaka", "password": "not-the-password-at-all"})
    assert response.status_code in (200, 400)
    return response.content.decode()


def _lookup(code: str, birth: date) -> dict[str, str]:
    return {
        "code": code,
        "birth_date_0": "western",
        "birth_date_1": str(birth.year),
        "birth_date_2": str(birth.month),
        "birth_date_3": str(birth.day),
    }


def test_look_ups_at_another_city_do_not_erase_a_failed_login_count(
    city: Municipality, other_city: Municipality
) -> None:
    with schema_context(city.schema_name):
        UserFactory(username="tanaka", role=Role.STAFF)
    staff_side = Client(HTTP_HOST=f"{city.slug}.localhost")
    threshold = settings.LOCKOUT_ACCOUNT_FAILURES
    for _ in range(threshold - 1):
        assert LOCKED not in _wrong_password(staff_side)

    # 450 failed look-ups at okegawa, each for another code, from many addresses (so each one is counted).
    for n in range(450):
        resident = Client(
            HTTP_HOST=f"{other_city.slug}.localhost", REMOTE_ADDR=f"198.51.{100 + n // 250}.{n % 250}"
        )
        answer = resident.post("/book/find/", _lookup(f"ZZ{n:06d}", date(1980, 1, 1) + timedelta(days=n)))
        assert answer.status_code in (400, 429)

    _wrong_password(staff_side)
    with schema_context(city.schema_name):
        assert AccountLock.objects.filter(kind=AccountLock.Kind.ACCOUNT, key="tanaka").exists()
    with schema_context(other_city.schema_name):
        assert not AccountLock.objects.exists()
    assert LOCKED in _wrong_password(staff_side)
