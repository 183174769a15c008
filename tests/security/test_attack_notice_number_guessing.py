"""Issue 10, item 7: a pickup booking's notice number + date of birth check was limited per address only (and per
notice number by a lock: 10 submissions an hour locked the real resident out).

Now, after a few refused dates of birth for one notice number, the answers for that number slow down (a cool-down,
services_resident.COOL_DOWNS["notice"]) from every address, with 429 and Retry-After; the real resident books once
the interval has passed.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from apps.booking.models import Reservation, Slot
from apps.booking.tests.resident_helpers import hidden, hold_url, person_data
from apps.issuance.models import CardState
from tenants.models import Municipality
from tests.factories import SlotFactory, make_card, visit_day

NUMBER = "K7M-204815"
BIRTH = date(1980, 4, 1)


@pytest.fixture(autouse=True)
def _mail_sync(settings: Any) -> None:
    settings.BOOKING_MAIL_SYNC = True


def _client(address: str) -> Client:
    return Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR=address)


def _submit(client: Client, slot: Slot, birth: date) -> Any:
    url = hold_url(client, slot, purpose_code="pickup")
    html = client.get(url).content.decode()
    data = {
        **person_data("p1", "上尾 花子", "western", str(birth.year), str(birth.month), str(birth.day)),
        "p1-notice_number": NUMBER,
        "email": "hanako@example.jp",
        "phone": "090-1234-5678",
        "submission_key": hidden(html, "submission_key"),
    }
    return client.post(url, data)


def test_guessing_a_date_of_birth_from_many_addresses_meets_a_cool_down(in_city: Municipality) -> None:
    card = make_card(notice_number=NUMBER, birth_date=BIRTH)
    slot = SlotFactory.create(day=visit_day(), seats=50)
    answers = [
        _submit(_client(f"198.51.100.{i + 1}"), slot, date(1990, 1, 1) + timedelta(days=i)) for i in range(12)
    ]
    statuses = [a.status_code for a in answers]
    assert statuses[:4] == [400, 400, 400, 400]  # three free failures, then this interval's one try
    assert statuses[4:] == [429] * 8
    refused = answers[-1]
    assert 1 <= int(refused["Retry-After"]) <= 5 * 60
    assert "にもう一度お試しください" in refused.content.decode()
    # The right pair inside the interval is not checked either (nothing to learn from the 429).
    resident = _client("203.0.113.9")
    assert _submit(resident, slot, BIRTH).status_code == 429
    # Time passes (the interval's window is moved into the past): the real resident books.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE security_counter SET window_end = clock_timestamp() - interval '1 second'"
            " WHERE key LIKE 'booking:cool:notice:turn:%%'"
        )
    booked = _submit(resident, SlotFactory.create(day=visit_day(), at=time(11, 0)), BIRTH)
    assert booked.status_code == 302
    assert "/book/done/" in booked["Location"]
    card.refresh_from_db()
    assert card.state == CardState.BOOKED
    assert Reservation.objects.count() == 1
