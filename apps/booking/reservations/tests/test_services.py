"""Slots follow the rules; holds, bookings and cancellations keep the seat count right; cities stay apart."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

import pytest
from django_tenants.utils import schema_context

from apps.booking import hooks
from apps.booking.calendar.hours import TOKYO, is_national_holiday, open_ranges
from apps.booking.calendar.services import slots_sync
from apps.booking.errors import BookingError, OutsideWindowError, SlotFullError
from apps.booking.models import BookingSettings, CalendarDay, CounterGroup, Hold, Purpose, Reservation, Slot
from apps.booking.reservations.services import (
    PersonInput,
    hold_create,
    holds_release_expired,
    reservation_cancel,
    reservation_confirm,
)
from apps.security.actors import Actor
from base.japanese import kana_key
from tenants.models import Municipality
from tests.factories import CalendarDayFactory, SlotFactory, make_card

RESIDENT = Actor.resident(address="203.0.113.7")

MONDAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=TOKYO)


@pytest.fixture
def booking(in_city: Municipality) -> tuple[CounterGroup, Purpose]:
    return CounterGroup.objects.get(), Purpose.objects.get(code="application")


def _book(
    slot: Slot, purpose: Purpose, persons: int = 1, key: uuid.UUID | None = None, name: str = "山田太郎"
):
    hold = hold_create(slot_id=slot.pk, purpose_id=purpose.pk, persons=persons, now=NOW)
    people = [
        PersonInput(name=f"{name}{i}", kana="やまだ たろう", birth_date=date(1980, 4, i + 1))
        for i in range(persons)
    ]
    return reservation_confirm(
        hold_token=hold.token,
        persons=people,
        email="taro@example.jp",
        phone="",
        submission_key=key or uuid.uuid4(),
        now=NOW,
    )


def test_a_new_city_has_a_counter_weekday_hours_and_the_usual_purposes(
    booking: tuple[CounterGroup, Purpose],
) -> None:
    group, _purpose = booking
    assert group.hours.count() == 10  # Mon-Fri, morning and afternoon
    assert Purpose.objects.filter(code="pickup", requires_notice_number=True).exists()
    assert BookingSettings.objects.get().opens_days_ahead == 60


def test_holidays_substitute_holidays_and_the_year_end_are_closed(
    booking: tuple[CounterGroup, Purpose],
) -> None:
    group, _purpose = booking
    settings = BookingSettings.objects.get()
    weekly = list(group.hours.all())
    assert is_national_holiday(date(2026, 5, 6))  # 振替休日 for Constitution Day on a Sunday
    for closed in (date(2026, 5, 6), date(2026, 11, 23), date(2026, 12, 29), date(2027, 1, 1)):
        assert open_ranges(day=closed, weekly=weekly, calendar_days=[], settings=settings) == [], closed
    assert open_ranges(day=MONDAY, weekly=weekly, calendar_days=[], settings=settings) == [
        (time(8, 30), time(12, 0)),
        (time(13, 0), time(17, 0)),
    ]
    sunday = CalendarDay(date=date(2026, 12, 6), kind="open", start=time(9, 0), end=time(12, 0))
    assert open_ranges(day=date(2026, 12, 6), weekly=weekly, calendar_days=[sunday], settings=settings) == [
        (time(9, 0), time(12, 0))
    ]


def test_slots_fill_the_window_and_a_resync_changes_nothing(booking: tuple[CounterGroup, Purpose]) -> None:
    first = slots_sync(today=MONDAY)
    monday = Slot.objects.filter(start__date=MONDAY)
    assert monday.count() == 15  # 8:30-12:00 is 7 frames, 13:00-17:00 is 8
    assert first.created > 300
    again = slots_sync(today=MONDAY)
    assert (again.created, again.withdrawn) == (0, 0)


def test_a_new_closure_withdraws_slots_but_never_drops_a_booking(
    booking: tuple[CounterGroup, Purpose],
) -> None:
    _group, purpose = booking
    slots_sync(today=NOW.date())
    slot = Slot.objects.get(start=datetime.combine(MONDAY, time(9, 0), TOKYO))
    reservation = _book(slot, purpose)
    CalendarDayFactory.create(date=MONDAY, kind="closed", reason="庁舎点検")
    result = slots_sync(today=NOW.date())
    assert result.withdrawn == 15
    assert result.orphaned == [slot.pk]  # listed for staff to move or cancel
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.BOOKED
    slot.refresh_from_db()
    assert (slot.blocked, slot.taken) == (True, 1)


def test_hold_then_confirm_takes_seats_once(booking: tuple[CounterGroup, Purpose]) -> None:
    group, purpose = booking
    slot = SlotFactory.create(counter_group=group, day=MONDAY, at=time(9, 0))
    key = uuid.uuid4()
    first = _book(slot, purpose, persons=2, key=key)
    slot.refresh_from_db()
    assert slot.taken == 2
    assert len(first.code) == 8
    assert list(first.persons.values_list("kana_key", flat=True)) == ["ヤマダタロウ", "ヤマダタロウ"]


def test_a_resubmitted_form_makes_one_booking(booking: tuple[CounterGroup, Purpose]) -> None:
    group, purpose = booking
    slot = SlotFactory.create(counter_group=group, day=MONDAY, at=time(9, 0), seats=3)
    hold = hold_create(slot_id=slot.pk, purpose_id=purpose.pk, persons=1, now=NOW)
    key = uuid.uuid4()
    person = [PersonInput(name="佐藤花子", birth_date=date(1990, 2, 3))]
    one = reservation_confirm(
        hold_token=hold.token, persons=person, email="", phone="", submission_key=key, now=NOW
    )
    two = reservation_confirm(
        hold_token=hold.token, persons=person, email="", phone="", submission_key=key, now=NOW
    )
    assert one.pk == two.pk
    assert Reservation.objects.count() == 1
    slot.refresh_from_db()
    assert slot.taken == 1


def test_a_full_slot_refuses_with_a_friendly_message(booking: tuple[CounterGroup, Purpose]) -> None:
    group, purpose = booking
    slot = SlotFactory.create(counter_group=group, day=MONDAY, at=time(9, 0), seats=1)
    _book(slot, purpose)
    with pytest.raises(SlotFullError, match="満席"):
        hold_create(slot_id=slot.pk, purpose_id=purpose.pk, persons=1, now=NOW)


def test_staff_seats_are_kept_from_residents(booking: tuple[CounterGroup, Purpose]) -> None:
    group, purpose = booking
    slot = SlotFactory.create(counter_group=group, day=MONDAY, at=time(9, 0), seats=2)
    Slot.objects.filter(pk=slot.pk).update(staff_seats=1)
    _book(slot, purpose)
    with pytest.raises(SlotFullError):
        hold_create(slot_id=slot.pk, purpose_id=purpose.pk, persons=1, now=NOW)


def test_expired_holds_give_their_seats_back(booking: tuple[CounterGroup, Purpose]) -> None:
    group, purpose = booking
    slot = SlotFactory.create(counter_group=group, day=MONDAY, at=time(9, 0))
    hold = hold_create(slot_id=slot.pk, purpose_id=purpose.pk, persons=2, now=NOW)
    assert holds_release_expired(now=NOW + timedelta(minutes=9)) == 0
    assert holds_release_expired(now=NOW + timedelta(minutes=11)) == 1
    slot.refresh_from_db()
    assert slot.taken == 0
    with pytest.raises(SlotFullError, match="解放しました"):
        reservation_confirm(
            hold_token=hold.token,
            persons=[PersonInput("a", date(2000, 1, 1))] * 2,
            email="",
            phone="",
            submission_key=uuid.uuid4(),
            now=NOW,
        )


def test_booking_window_and_deadline(booking: tuple[CounterGroup, Purpose]) -> None:
    group, purpose = booking
    tomorrow_morning = SlotFactory.create(
        counter_group=group, day=date(2026, 12, 2), at=time(8, 30)
    )  # 23.5 hours ahead
    with pytest.raises(OutsideWindowError):
        hold_create(slot_id=tomorrow_morning.pk, purpose_id=purpose.pk, persons=1, now=NOW)
    far = SlotFactory.create(counter_group=group, day=date(2027, 3, 1), at=time(9, 0))
    with pytest.raises(OutsideWindowError):
        hold_create(slot_id=far.pk, purpose_id=purpose.pk, persons=1, now=NOW)


def test_cancel_gives_the_seats_back_until_the_deadline(booking: tuple[CounterGroup, Purpose]) -> None:
    group, purpose = booking
    slot = SlotFactory.create(counter_group=group, day=MONDAY, at=time(9, 0))
    reservation = _book(slot, purpose, persons=2)
    with pytest.raises(OutsideWindowError):
        reservation_cancel(reservation_id=reservation.pk, now=slot.start - timedelta(hours=2), actor=RESIDENT)
    reservation_cancel(reservation_id=reservation.pk, now=NOW, actor=RESIDENT)
    slot.refresh_from_db()
    assert slot.taken == 0
    assert Reservation.objects.get().status == Reservation.Status.CANCELLED


def test_one_future_booking_per_person_and_purpose(booking: tuple[CounterGroup, Purpose]) -> None:
    group, purpose = booking
    _book(SlotFactory.create(counter_group=group, day=MONDAY, at=time(9, 0)), purpose, name="鈴木")
    with pytest.raises(BookingError, match="すでにあります"):
        _book(SlotFactory.create(counter_group=group, day=MONDAY, at=time(10, 0)), purpose, name="鈴木")


def test_pickup_asks_the_registered_check_and_gives_one_answer(booking: tuple[CounterGroup, Purpose]) -> None:
    group, _purpose = booking
    pickup = Purpose.objects.get(code="pickup")
    seen: list[hooks.NoticeCheck] = []

    def checker(check: hooks.NoticeCheck) -> str | None:
        seen.append(check)
        return None if check.notice_number == "A1B123456" else "番号または生年月日が確認できません。"

    hooks.register_notice_checker(checker)
    make_card(notice_number="A1B-123456", birth_date=date(1970, 1, 1))  # the card list's own check passes too
    try:
        slot = SlotFactory.create(counter_group=group, day=MONDAY, at=time(9, 0), seats=4)
        hold = hold_create(slot_id=slot.pk, purpose_id=pickup.pk, persons=1, now=NOW)
        with pytest.raises(BookingError, match="確認できません"):
            reservation_confirm(
                hold_token=hold.token,
                persons=[PersonInput("a", date(1970, 1, 1), notice_number="X")],
                email="",
                phone="",
                submission_key=uuid.uuid4(),
                now=NOW,
            )
        ok = reservation_confirm(
            hold_token=hold.token,
            persons=[PersonInput("a", date(1970, 1, 1), notice_number="A1B123456")],
            email="",
            phone="",
            submission_key=uuid.uuid4(),
            now=NOW,
        )
        assert ok.status == Reservation.Status.BOOKED
        assert seen[-1].purpose_code == "pickup"
    finally:
        hooks.unregister_notice_checker(checker)


def test_booking_works_with_nothing_plugged_into_its_hooks(in_city: Municipality) -> None:
    # Booking's tests run with the hooks emptied (conftest): whatever issuance registers at start-up, a notice
    # number is then checked for its shape only and nobody hears of bookings.
    assert hooks.check_notice(hooks.NoticeCheck("Z9Z999999", date(1970, 1, 1), "pickup")) is None
    for signal in (hooks.reservation_booked, hooks.reservation_cancelled, hooks.reservation_no_show):
        assert not signal.has_listeners()


def test_kana_key_folds_width_script_dashes_and_spaces() -> None:
    assert kana_key("やまだ　たろう") == kana_key("ﾔﾏﾀﾞ ﾀﾛｳ") == "ヤマダタロウ"
    assert kana_key("スーパー") == kana_key("すーぱー") == kana_key("ス-パ-")


def test_another_city_sees_none_of_the_slots_or_bookings(
    city: Municipality, other_city: Municipality
) -> None:
    with schema_context(city.schema_name):
        group = CounterGroup.objects.get()
        _book(
            SlotFactory.create(counter_group=group, day=MONDAY, at=time(9, 0)),
            Purpose.objects.get(code="application"),
        )
    with schema_context(other_city.schema_name):
        assert Slot.objects.count() == 0
        assert Reservation.objects.count() == 0
        assert Hold.objects.count() == 0
