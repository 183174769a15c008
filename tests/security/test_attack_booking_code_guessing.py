"""Issue 10, item 7: /book/find/ (booking code + date of birth) took 40 tries from 40 addresses with no 429.

Now the answers for one code slow down after a few failures (a cool-down, services_resident.COOL_DOWNS), whoever
asks and from wherever: a 429 with Retry-After, and the real resident gets in once the interval has passed. It is
never a lock: the attacker cannot keep the real resident out for longer than the interval.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.models import Reservation
from apps.booking.reservations.services import PersonInput, hold_create, reservation_confirm
from apps.booking.tests.resident_helpers import application
from tenants.models import Municipality
from tests.factories import SlotFactory, visit_day

BIRTH = date(1980, 4, 1)


@pytest.fixture(autouse=True)
def _mail_sync(settings: Any) -> None:
    settings.BOOKING_MAIL_SYNC = True


def _book() -> Reservation:
    slot = SlotFactory.create(day=visit_day(), seats=4)
    hold = hold_create(slot_id=slot.pk, purpose_id=application().pk, persons=1, now=timezone.now())
    return reservation_confirm(
        hold_token=hold.token,
        persons=[PersonInput(name="上尾 花子", birth_date=BIRTH)],
        email="hanako@example.jp",
        phone="09012345678",
        submission_key=uuid.uuid4(),
        now=timezone.now(),
    )


def _lookup(code: str, birth: date) -> dict[str, str]:
    return {
        "code": code,
        "birth_date_0": "western",
        "birth_date_1": str(birth.year),
        "birth_date_2": str(birth.month),
        "birth_date_3": str(birth.day),
    }


def _guess(index: int) -> date:
    return date(1990, 1, 1) + timedelta(days=index)


def _from(city: Municipality, address: str) -> Client:
    return Client(HTTP_HOST=f"{city.slug}.localhost", REMOTE_ADDR=address)


def _turns_pass() -> None:
    """Time passes: the current cool-down interval ends (the counter's window is moved into the past)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE security_counter SET window_end = clock_timestamp() - interval '1 second'"
            " WHERE key LIKE 'booking:cool:lookup_code:turn:%%'"
        )


def test_forty_guesses_from_forty_addresses_meet_a_cool_down(
    city: Municipality, in_city: Municipality
) -> None:
    reservation = _book()
    answers = [
        _from(city, f"198.51.100.{i + 1}").post("/book/find/", _lookup(reservation.code, _guess(i)))
        for i in range(40)
    ]
    statuses = [a.status_code for a in answers]
    checked = [s for s in statuses if s != 429]
    # Three free failures, then one try per interval: the fourth is checked, the rest wait.
    assert checked == [400, 400, 400, 400]
    assert statuses.count(429) == 36
    refused = answers[-1]
    assert 1 <= int(refused["Retry-After"]) <= 30
    page = refused.content.decode()
    assert "確認を遅らせています" in page
    assert "秒後" in page
    assert reservation.code in page  # the form is kept, to send again when it is time
    # A wrong guess inside the interval teaches nothing: a right one is not checked either.
    assert (
        _from(city, "198.51.100.200").post("/book/find/", _lookup(reservation.code, BIRTH)).status_code == 429
    )


def test_the_real_resident_gets_in_after_waiting_out_retry_after(
    city: Municipality, in_city: Municipality
) -> None:
    reservation = _book()
    for i in range(40):
        _from(city, f"198.51.100.{i + 1}").post("/book/find/", _lookup(reservation.code, _guess(i)))
    resident = _from(city, "203.0.113.7")
    waiting = resident.post("/book/find/", _lookup(reservation.code, BIRTH))
    assert waiting.status_code == 429
    assert int(waiting["Retry-After"]) <= 5 * 60  # never longer than the longest interval
    _turns_pass()
    found = resident.post("/book/find/", _lookup(reservation.code, BIRTH))
    assert found.status_code == 302
    assert "/book/manage/" in found["Location"]
    assert reservation.code in resident.get(found["Location"]).content.decode()
    # The right answer clears the failures: the resident's next visit is not slowed.
    assert resident.post("/book/find/", _lookup(reservation.code, BIRTH)).status_code == 302


def test_the_interval_grows_but_stays_short(city: Municipality, in_city: Municipality) -> None:
    reservation = _book()
    guesses = iter(range(1000))

    def guess(address: str) -> Any:
        return _from(city, address).post("/book/find/", _lookup(reservation.code, _guess(next(guesses))))

    assert [guess("198.51.100.1").status_code for _ in range(3)] == [400, 400, 400]
    waits = []
    for i in range(10):
        assert guess(f"198.51.100.{i + 2}").status_code == 400  # this interval's one try
        refused = guess(f"198.51.100.{i + 2}")
        assert refused.status_code == 429
        waits.append(int(refused["Retry-After"]))
        _turns_pass()
    assert waits[0] <= 30
    assert all(a <= b + 1 for a, b in pairwise(waits))  # it grows ...
    assert 4 * 60 < waits[-1] <= 5 * 60  # ... to the longest interval, and no further


def test_the_cool_down_is_one_citys(city: Municipality, other_city: Municipality) -> None:
    with schema_context(city.schema_name):
        reservation = _book()
        for i in range(10):
            _from(city, f"198.51.100.{i + 1}").post("/book/find/", _lookup(reservation.code, _guess(i)))
        assert (
            _from(city, "198.51.100.99").post("/book/find/", _lookup(reservation.code, BIRTH)).status_code
            == 429
        )
    # The same code typed at the other city is not slowed (and finds nothing there).
    other = _from(other_city, "198.51.100.99")
    assert other.post("/book/find/", _lookup(reservation.code, BIRTH)).status_code == 400
    with schema_context(other_city.schema_name), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM security_counter WHERE key LIKE 'booking:cool:%%' AND count > 1")
        assert cursor.fetchone()[0] == 0
