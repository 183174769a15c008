"""No double booking: 60 residents from separate connections at once for a slot with 3 seats.

Committed data in a city made for this module (the other connections must see it), dropped afterwards.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.errors import BookingError
from apps.booking.models import CounterGroup, Purpose, Reservation, Slot
from apps.booking.reservations.services import PersonInput, hold_create, reservation_confirm
from tenants.db import use_public_schema
from tenants.models import Municipality
from tenants.services import MunicipalityInput, municipality_create
from tests.factories import SlotFactory

ATTEMPTS = 60
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rush_city(django_db_setup: None, django_db_blocker: Any) -> Iterator[tuple[Municipality, int, int]]:
    with django_db_blocker.unblock():
        city = municipality_create(
            data=MunicipalityInput(
                slug="rush", lg_code="119999", name_ja="試験市", name_en="Rush", prefecture="埼玉県"
            ),
            domains=["rush.localhost"],
        )
        with schema_context("rush"):
            group = CounterGroup.objects.get()
            purpose = Purpose.objects.get(code="application")
            start = timezone.now() + timedelta(days=5)
            slot = SlotFactory.create(counter_group=group, start=start, seats=3)
        yield city, slot.pk, purpose.pk
        use_public_schema()
        city.delete(force_drop=True)


def _attempt(
    slot_id: int, purpose_id: int, index: int, barrier: threading.Barrier, outcomes: list[str]
) -> None:
    try:
        with schema_context("rush"):
            barrier.wait()
            now = timezone.now()
            try:
                hold = hold_create(slot_id=slot_id, purpose_id=purpose_id, persons=1, now=now)
                reservation_confirm(
                    hold_token=hold.token,
                    persons=[PersonInput(name=f"住民{index}", birth_date=date(1980, 1, index % 28 + 1))],
                    email=f"r{index}@example.jp",
                    phone="",
                    submission_key=uuid.uuid4(),
                    now=now,
                )
                outcomes.append("booked")
            except BookingError:
                outcomes.append("full")
    except Exception as exc:  # any other failure is what the test must show
        outcomes.append(f"error: {exc!r}")
    finally:
        connections.close_all()


def test_sixty_concurrent_residents_three_seats_exactly_three_bookings(
    rush_city: tuple[Municipality, int, int], django_db_blocker: Any
) -> None:
    _city, slot_id, purpose_id = rush_city
    outcomes: list[str] = []
    barrier = threading.Barrier(ATTEMPTS)
    threads = [
        threading.Thread(target=_attempt, args=(slot_id, purpose_id, i, barrier, outcomes))
        for i in range(ATTEMPTS)
    ]
    with django_db_blocker.unblock():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert sorted(set(outcomes)) == ["booked", "full"], outcomes
        assert outcomes.count("booked") == 3
        with schema_context("rush"):
            slot = Slot.objects.get(pk=slot_id)
            assert (slot.taken, slot.seats) == (3, 3)
            assert Reservation.objects.filter(slot=slot, status="booked").count() == 3
    assert connection.vendor == "postgresql"
