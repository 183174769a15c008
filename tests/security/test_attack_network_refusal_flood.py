"""Issue 10, item 8: a flood of refused staff requests is counted, not audited one row at a time.

Before, every refusal wrote a permanent audit row under the city's audit-chain lock: a flood grew a table that is
never pruned and queued staff writes behind it. Now each refusal is counted (apps.security.counters) and reported
as an attack sign; the first refusal of an address per window is the one sample row in the audit log.
"""

from __future__ import annotations

from django.test import Client
from django_tenants.utils import schema_context

from apps.security.audit_models import AuditEvent
from apps.security.counters import counter_peek
from apps.security.models import Role
from conftest import OUTSIDE_ADDRESS
from tenants.models import Municipality
from tests.factories import PASSWORD, UserFactory, with_totp

LOGIN = "/accounts/login/"
SECOND_ADDRESS = "203.0.113.77"


def _refusals(city: Municipality) -> list[AuditEvent]:
    with schema_context(city.schema_name):
        return list(AuditEvent.objects.filter(action="network.refused").order_by("sequence"))


def test_a_hundred_refusals_make_one_audit_row_and_are_all_counted(city: Municipality) -> None:
    attacker = Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR=OUTSIDE_ADDRESS)
    for index in range(100):
        path = LOGIN if index % 2 else "/staff/"
        response = attacker.get(path)
        assert response.status_code == 403
        assert "この接続元からは利用できません" in response.content.decode()
    [sample] = _refusals(city)
    assert sample.address == OUTSIDE_ADDRESS
    assert OUTSIDE_ADDRESS in sample.summary
    assert "件数のみ" in sample.summary  # the row says the rest of the window is only counted
    with schema_context(city.schema_name):
        assert counter_peek(f"netrefused:{OUTSIDE_ADDRESS}", fail_closed=False).count == 100


def test_a_second_address_gets_its_own_sample(city: Municipality) -> None:
    for address in (OUTSIDE_ADDRESS, SECOND_ADDRESS, OUTSIDE_ADDRESS, SECOND_ADDRESS):
        assert Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR=address).get(LOGIN).status_code == 403
    assert [event.address for event in _refusals(city)] == [OUTSIDE_ADDRESS, SECOND_ADDRESS]


def test_ipv6_addresses_of_one_site_share_a_sample(city: Municipality) -> None:
    # Rotating through /64s of one /56 (one site's delegation) does not write a row per /64.
    for subnet in range(20):
        address = f"2001:db8:0:{subnet:x}::1"
        assert Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR=address).get(LOGIN).status_code == 403
    [sample] = _refusals(city)
    assert sample.address == "2001:db8::1"


def test_the_citys_staff_still_sign_in_during_a_flood(city: Municipality, other_city: Municipality) -> None:
    with schema_context(city.schema_name):
        with_totp(UserFactory(username="sato", role=Role.STAFF))
    attacker = Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR=OUTSIDE_ADDRESS)
    staff = Client(HTTP_HOST="ageo.localhost")  # from the city's network (loopback here)
    for _ in range(30):
        assert attacker.post(LOGIN, {"login": "sato", "password": PASSWORD}).status_code == 403
    assert staff.get(LOGIN).status_code == 200
    signed_in = staff.post(LOGIN, {"login": "sato", "password": PASSWORD})
    assert signed_in.status_code == 302  # on to the second factor: the password was accepted
    assert "/accounts/2fa/authenticate/" in signed_in["Location"]
    # The flood is the city's own: 桶川市 has no refusal rows and no counts.
    with schema_context(other_city.schema_name):
        assert not AuditEvent.objects.filter(action="network.refused").exists()
        assert counter_peek(f"netrefused:{OUTSIDE_ADDRESS}", fail_closed=False).count == 0
