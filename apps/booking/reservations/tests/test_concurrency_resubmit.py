"""One booking however often the same form is sent: the confirm form posted by 10 requests at once, each on its own
connection (the same hold, the same submission key, as a double-click or an impatient resident does).

Committed data in a city made for this module (the other connections must see it), dropped afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection, connections
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import CounterGroup, Hold, Person, Purpose, Reservation, Slot
from apps.booking.reservations.services import hold_create
from apps.booking.tests.resident_helpers import hidden, person_data
from tenants.db import use_public_schema
from tenants.models import Municipality
from tenants.services import MunicipalityInput, municipality_create
from tests.factories import SlotFactory

SUBMISSIONS = 10
HOST = "resubmit.localhost"
# One resident's address for every request (a double-click comes from one browser); not the loopback other tests
# count against the per-address submission limit.
ADDRESS = "198.51.100.27"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def resubmit_city(django_db_setup: None, django_db_blocker: Any) -> Iterator[tuple[Municipality, int, int]]:
    with django_db_blocker.unblock():
        city = municipality_create(
            data=MunicipalityInput(
                slug="resubmit", lg_code="119998", name_ja="再送市", name_en="Resubmit", prefecture="埼玉県"
            ),
            domains=[HOST],
        )
        with schema_context("resubmit"):
            group = CounterGroup.objects.get()
            purpose = Purpose.objects.get(code="application")
            day = timezone.now().astimezone(TOKYO).date() + timedelta(days=5)
            while day.weekday() >= 5:
                day += timedelta(days=1)
            start = datetime.combine(day, time(10, 0), TOKYO)
            # Room for many bookings: only the submission key may keep the copies out, not the capacity.
            slot = SlotFactory.create(counter_group=group, start=start, seats=20)
        yield city, slot.pk, purpose.pk
        use_public_schema()
        city.delete(force_drop=True)


def _post(
    path: str, data: dict[str, str], barrier: threading.Barrier, outcomes: list[tuple[int, str]]
) -> None:
    try:
        client = Client(HTTP_HOST=HOST, REMOTE_ADDR=ADDRESS)
        barrier.wait()
        response = client.post(path, data)
        outcomes.append((response.status_code, str(response.get("Location", ""))))
    except Exception as exc:  # any other failure is what the test must show
        outcomes.append((0, f"error: {exc!r}"))
    finally:
        connections.close_all()


def test_the_same_confirm_form_posted_ten_times_at_once_makes_one_booking(
    resubmit_city: tuple[Municipality, int, int], django_db_blocker: Any, settings: Any
) -> None:
    settings.BOOKING_MAIL_SYNC = True
    _city, slot_id, purpose_id = resubmit_city
    with django_db_blocker.unblock():
        with schema_context("resubmit"):
            hold = hold_create(slot_id=slot_id, purpose_id=purpose_id, persons=2, now=timezone.now())
        path = f"/book/hold/{hold.token}/"
        form = Client(HTTP_HOST=HOST, REMOTE_ADDR=ADDRESS).get(path)
        assert form.status_code == 200, form.content.decode()[:2000]
        data = {
            **person_data("p1", "再送 花子", "showa", "55", "4", "1", kana="さいそう はなこ"),
            **person_data("p2", "再送 太郎", "heisei", "20", "8", "8", kana="さいそう たろう"),
            "email": "resubmit@example.jp",
            "phone": "090-0000-1111",
            "submission_key": hidden(form.content.decode(), "submission_key"),
        }

        outcomes: list[tuple[int, str]] = []
        barrier = threading.Barrier(SUBMISSIONS)
        threads = [
            threading.Thread(target=_post, args=(path, data, barrier, outcomes)) for _ in range(SUBMISSIONS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

        assert len(outcomes) == SUBMISSIONS, outcomes
        with schema_context("resubmit"):
            reservation = Reservation.objects.get()  # exactly one
            slot = Slot.objects.get(pk=slot_id)
            assert reservation.seats == hold.seats == 2
            assert (slot.taken, slot.seats) == (reservation.seats, 20)
            assert not Hold.objects.exists()  # its seats became the booking's
            assert Person.objects.filter(reservation=reservation).count() == 2
            assert str(reservation.submission_key) == data["submission_key"]
        # Every request shows the one booking, even one that arrives after the first one's commit took the hold.
        done = f"/book/done/{reservation.code}/"
        assert {(status, location) for status, location in outcomes} == {(302, done)}, outcomes
        assert len([m for m in mail.outbox if "resubmit@example.jp" in m.to]) == 1  # one mail too
    assert connection.vendor == "postgresql"
