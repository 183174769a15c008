"""After booking: the calendar stays fast, the lost mail is found by code + birth date, limits, and moving a visit."""

from __future__ import annotations

import uuid
from datetime import date, time, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.booking.calendar.availability import month_availability
from apps.booking.errors import OutsideWindowError
from apps.booking.models import BookingSettings, Reservation, Slot
from apps.booking.reservations.services import PersonInput, hold_create, reservation_confirm
from apps.booking.resident.services import manage_token, reservation_move
from apps.booking.tests.resident_helpers import application
from tenants.models import Municipality
from tests.factories import SlotFactory, visit_day


@pytest.fixture(autouse=True)
def _mail_sync(settings: Any) -> None:
    settings.BOOKING_MAIL_SYNC = True


def _book(slot: Slot, persons: int = 1, birth: date = date(1980, 4, 1)) -> Reservation:
    hold = hold_create(slot_id=slot.pk, purpose_id=application().pk, persons=persons, now=timezone.now())
    return reservation_confirm(
        hold_token=hold.token,
        persons=[PersonInput(name=f"上尾 {slot.pk}-{i}", birth_date=birth) for i in range(persons)],
        email="hanako@example.jp",
        phone="09012345678",
        submission_key=uuid.uuid4(),
        now=timezone.now(),
    )


def _calendar_queries(client: Client, month: str, *, warm: bool = False) -> int:
    if not warm:
        cache.clear()
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/book/application/?month={month}").status_code == 200
    return len(queries)


def test_the_month_calendar_query_count_does_not_grow_with_slots_or_bookings(
    city_client: Client, in_city: Municipality
) -> None:
    first = visit_day()

    def fill(days: range) -> None:
        for offset in days:
            for hour in (9, 10, 11):
                slot = SlotFactory.create(day=first + timedelta(days=offset), at=time(hour, 0), seats=3)
                if hour != 11:
                    _book(slot)

    month = f"{first:%Y-%m}"
    fill(range(1))
    small = _calendar_queries(city_client, month)
    fill(range(1, 15))
    assert _calendar_queries(city_client, month) == small
    # Cold (the cache was cleared): middleware, the resident context, the month's slots, the maintenance banner and
    # writing each to the database cache: a fixed cost, never per slot.
    assert small <= 50
    # Warm: the host's city and one cache read for the whole page (each with its search_path), however many slots.
    assert _calendar_queries(city_client, month, warm=True) <= 4


def test_availability_is_cached_and_a_booking_invalidates_it(
    in_city: Municipality, django_capture_on_commit_callbacks: Any
) -> None:
    day = visit_day()
    slot = SlotFactory.create(day=day, seats=1)
    settings = BookingSettings.objects.get()
    purpose = application()
    now = timezone.now()

    def status() -> str:
        days = month_availability(purpose=purpose, year=day.year, month=day.month, settings=settings, now=now)
        return next(d.status for d in days if d.day == day)

    cache.clear()
    assert status() == "few"
    with CaptureQueriesContext(connection) as queries:
        assert status() == "few"
    assert not [q for q in queries if "booking_slot" in q["sql"]]  # served from the cache
    with django_capture_on_commit_callbacks(execute=True):  # the cache is forgotten when the booking commits
        _book(slot)
    assert status() == "full"


def test_lookup_by_code_and_birth_date_opens_the_manage_page(
    city_client: Client, in_city: Municipality
) -> None:
    reservation = _book(SlotFactory.create(day=visit_day()), birth=date(1985, 7, 7))
    wrong = city_client.post(
        "/book/find/",
        {
            "code": reservation.code,
            "birth_date_0": "western",
            "birth_date_1": "1985",
            "birth_date_2": "7",
            "birth_date_3": "8",
        },
    )
    unknown = city_client.post(
        "/book/find/",
        {
            "code": "ZZZZZZZZ",
            "birth_date_0": "western",
            "birth_date_1": "1985",
            "birth_date_2": "7",
            "birth_date_3": "7",
        },
    )
    message = "予約番号と生年月日の組み合わせが見つかりません"
    assert wrong.status_code == unknown.status_code == 400
    assert message in wrong.content.decode()
    assert message in unknown.content.decode()
    found = city_client.post(
        "/book/find/",
        {
            "code": reservation.code.lower(),
            "birth_date_0": "showa",
            "birth_date_1": "60",
            "birth_date_2": "7",
            "birth_date_3": "7",
        },
    )
    assert found.status_code == 302
    assert reservation.code in city_client.get(found["Location"]).content.decode()


def _lookup(code: str) -> dict[str, str]:
    return {
        "code": code,
        "birth_date_0": "western",
        "birth_date_1": "1985",
        "birth_date_2": "7",
        "birth_date_3": "7",
    }


def test_lookups_are_rate_limited_per_session_with_a_japanese_page(
    city_client: Client, in_city: Municipality
) -> None:
    for attempt in range(10):  # other codes each time: the per-code cool-down is not what stops this
        assert city_client.post("/book/find/", _lookup(f"ZZZZZZ{attempt:02d}")).status_code == 400
    refused = city_client.post("/book/find/", _lookup("ZZZZZZ99"))
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "しばらくしてから" in refused.content.decode()


def test_lookups_are_rate_limited_per_address_across_sessions(
    city: Municipality, in_city: Municipality, settings: Any
) -> None:
    settings.BOOKING_RATE_LIMITS = {"lookup_ip": (3, 600)}
    for attempt in range(3):
        fresh = Client(HTTP_HOST="ageo.localhost")  # a script that drops its cookies: a new session each time
        assert fresh.post("/book/find/", _lookup(f"YYYYYY{attempt:02d}")).status_code == 400
    assert Client(HTTP_HOST="ageo.localhost").post("/book/find/", _lookup("YYYYYY99")).status_code == 429
    other = Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR="127.0.0.9")
    assert other.post("/book/find/", _lookup("YYYYYY98")).status_code == 400


def test_holds_are_rate_limited_per_address(
    city_client: Client, in_city: Municipality, settings: Any
) -> None:
    settings.BOOKING_RATE_LIMITS = {"hold_ip": (2, 600)}
    day = visit_day()
    slot = SlotFactory.create(day=day, seats=5)
    url = f"/book/application/{day.isoformat()}/"
    assert city_client.post(url, {"slot": slot.pk, "persons": 1}).status_code == 302
    assert city_client.post(url, {"slot": slot.pk, "persons": 1}).status_code == 302
    assert city_client.post(url, {"slot": slot.pk, "persons": 1}).status_code == 429


def test_the_resident_moves_the_visit_and_the_code_stays(
    city_client: Client, in_city: Municipality, django_capture_on_commit_callbacks: Any
) -> None:
    day = visit_day()
    old = SlotFactory.create(day=day, seats=2)
    new = SlotFactory.create(day=day, at=time(14, 0), seats=2)
    reservation = _book(old, persons=2)
    token = manage_token(reservation)
    page = city_client.get(f"/book/manage/{token}/change/?date={day.isoformat()}").content.decode()
    assert "14:00" in page
    with django_capture_on_commit_callbacks(execute=True):
        moved = city_client.post(f"/book/manage/{token}/change/?date={day.isoformat()}", {"slot": new.pk})
    assert moved.status_code == 302
    old.refresh_from_db()
    new.refresh_from_db()
    reservation.refresh_from_db()
    assert (old.taken, new.taken) == (0, 2)
    assert reservation.slot_id == new.pk
    assert "14:00" in city_client.get(moved["Location"]).content.decode()
    assert "変更しました" in mail.outbox[-1].subject


def test_a_move_into_a_full_slot_or_after_the_deadline_is_refused(in_city: Municipality) -> None:
    day = visit_day()
    reservation = _book(SlotFactory.create(day=day, seats=2), persons=2)
    full = SlotFactory.create(day=day, at=time(15, 0), seats=1)
    with pytest.raises(Exception, match="満席"):
        reservation_move(reservation_id=reservation.pk, new_slot_id=full.pk, now=timezone.now())
    later = SlotFactory.create(day=day, at=time(16, 0), seats=2)
    with pytest.raises(OutsideWindowError):
        reservation_move(
            reservation_id=reservation.pk, new_slot_id=later.pk, now=timezone.now() + timedelta(days=4)
        )


def test_past_days_read_outside_the_booking_period_not_closed(in_city: Municipality) -> None:
    from apps.booking.calendar.availability import CLOSED, OUTSIDE, month_availability

    today = timezone.localdate()
    days = month_availability(
        purpose=application(),
        year=today.year,
        month=today.month,
        settings=BookingSettings.objects.get(),
        now=timezone.now(),
    )
    by_day = {d.day: d.status for d in days}
    assert by_day[today] in (OUTSIDE, CLOSED)
    if today.day > 1:
        assert by_day[today.replace(day=1)] == OUTSIDE
