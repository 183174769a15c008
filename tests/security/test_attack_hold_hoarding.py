"""Issue 10, item 7: one address could hold 30 holds x 4 persons at once, enough to make a day look full.

Now active holds are capped per session (services.HOLDS_PER_SESSION) and per address bucket (HOLDS_PER_ADDRESS,
generous for a carrier's NAT; an IPv6 /64 counts as one address), checked inside the hold's transaction. A refused
hold is a 429 with a Japanese message, Retry-After, and the resident's choice still selected.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import Hold, Slot
from apps.booking.reservations.services import HOLDS_PER_ADDRESS, HOLDS_PER_SESSION
from tenants.models import Municipality
from tests.factories import SlotFactory, visit_day


def _hold(client: Client, slot: Slot, persons: int = 1) -> Any:
    day = slot.start.astimezone(TOKYO).date()
    return client.post(f"/book/application/{day.isoformat()}/", {"slot": slot.pk, "persons": persons})


def _client(address: str) -> Client:
    return Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR=address)


@pytest.fixture
def slot(in_city: Municipality) -> Slot:
    return SlotFactory.create(day=visit_day(), seats=200)


def test_a_session_cannot_hold_more_than_its_cap(slot: Slot) -> None:
    resident = _client("198.51.100.1")
    for _ in range(HOLDS_PER_SESSION):
        assert _hold(resident, slot, persons=4).status_code == 302
    refused = _hold(resident, slot, persons=4)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 10 * 60
    page = refused.content.decode()
    assert "これ以上時間を確保できません" in page
    assert f'value="{slot.pk}" checked' in page  # the choice is kept: time and persons
    assert '<option value="4" selected>' in page
    slot.refresh_from_db()
    assert slot.taken == HOLDS_PER_SESSION * 4
    # Once a hold has ended, the session may hold again.
    Hold.objects.filter(pk=Hold.objects.order_by("pk").first().pk).update(  # type: ignore[union-attr]
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert _hold(resident, slot).status_code == 302


def test_an_address_cannot_hold_more_than_its_cap_with_fresh_sessions(slot: Slot) -> None:
    for _ in range(HOLDS_PER_ADDRESS):  # a script dropping its cookies: a new session each time
        assert _hold(_client("198.51.100.2"), slot).status_code == 302
    refused = _hold(_client("198.51.100.2"), slot)
    assert refused.status_code == 429
    assert "同じ接続元から" in refused.content.decode()
    assert Hold.objects.filter(client_net="198.51.100.2").count() == HOLDS_PER_ADDRESS
    # Another address is not affected.
    assert _hold(_client("198.51.100.3"), slot).status_code == 302


def test_ipv6_addresses_rotating_inside_one_64_hold_as_one(slot: Slot) -> None:
    for i in range(HOLDS_PER_ADDRESS):
        assert _hold(_client(f"2001:db8:5:7::{i + 1:x}"), slot).status_code == 302
    assert _hold(_client("2001:db8:5:7:ffff:ffff:ffff:ffff"), slot).status_code == 429
    assert _hold(_client("2001:db8:5:8::1"), slot).status_code == 302  # the next /64 of the site


def test_the_bench_setting_raises_the_address_caps(slot: Slot, settings: Any) -> None:
    settings.BOOKING_ADDRESS_LIMIT_FACTOR = 1000  # MADOGUCHI_BENCH_LIMITS=true
    for _ in range(HOLDS_PER_ADDRESS + 5):
        assert _hold(_client("127.0.0.1"), slot).status_code == 302


def test_holders_are_recorded_in_the_citys_schema_only(city: Municipality, other_city: Municipality) -> None:
    with schema_context(city.schema_name):
        slot = SlotFactory.create(day=visit_day(), seats=5)
        assert _hold(_client("2001:db8:9:1::5"), slot).status_code == 302
        hold = Hold.objects.get()
        assert hold.session_key
        assert (hold.client_net, hold.client_site) == ("2001:db8:9:1::/64", "2001:db8:9::/56")
    with schema_context(other_city.schema_name):
        assert not Hold.objects.exists()
