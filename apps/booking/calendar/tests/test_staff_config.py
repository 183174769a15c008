"""The supervisor's configuration: hours and closures change the slots; orphaned bookings are listed, moved, cancelled."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.calendar.hours import TOKYO, is_national_holiday, is_year_end
from apps.booking.calendar.services import slots_sync
from apps.booking.models import BookingSettings, CalendarDay, CounterGroup, OpeningHours, Reservation, Slot
from apps.booking.staff.tests.test_staff_day import book
from apps.security.audit_models import AuditEvent
from apps.security.models import Role
from tenants.models import Municipality
from tests.factories import role_client


def next_weekday(weekday: int, after_days: int = 3) -> date:
    """The first `weekday` at least `after_days` ahead that is an ordinary working day."""
    day = timezone.localdate() + timedelta(days=after_days)
    while day.weekday() != weekday or is_national_holiday(day) or is_year_end(day):
        day += timedelta(days=1)
    return day


def slot_at(day: date, at: time) -> Slot | None:
    return Slot.objects.filter(start=datetime.combine(day, at, TOKYO)).first()


@pytest.fixture
def supervisor(city: Municipality) -> Client:
    return role_client(city, Role.SUPERVISOR)


@pytest.fixture
def staff(city: Municipality) -> Client:
    return role_client(city, Role.STAFF)


CONFIG_PAGES = [
    "/staff/booking/settings/",
    "/staff/booking/counters/",
    "/staff/booking/counters/add/",
    "/staff/booking/purposes/",
    "/staff/booking/purposes/add/",
    "/staff/booking/calendar/",
]


def test_counter_staff_cannot_open_configuration_but_supervisors_can(
    city: Municipality, staff: Client, supervisor: Client
) -> None:
    for url in CONFIG_PAGES:
        assert staff.get(url).status_code == 403, url
        assert supervisor.get(url).status_code == 200, url


def test_adding_saturday_hours_makes_slots_and_removing_them_withdraws_them(
    city: Municipality, supervisor: Client
) -> None:
    with schema_context(city.schema_name):
        group = CounterGroup.objects.get()
    saturday = next_weekday(5)
    response = supervisor.post(
        f"/staff/booking/counters/{group.pk}/hours/",
        {"weekday": "5", "start": "09:00", "end": "12:00"},
        follow=True,
    )
    assert "予約枠を更新しました" in response.content.decode()
    with schema_context(city.schema_name):
        slot = slot_at(saturday, time(11, 30))
        assert slot is not None
        assert slot.in_rules
        assert not slot.blocked
        hours = OpeningHours.objects.get(counter_group=group, weekday=5)
        assert AuditEvent.objects.filter(action="booking.hours_added").exists()
    supervisor.post(f"/staff/booking/hours/{hours.pk}/remove/")
    with schema_context(city.schema_name):
        slot = slot_at(saturday, time(11, 30))
        assert slot is not None
        assert not slot.in_rules
        assert slot.blocked


def test_overlapping_hours_are_refused_with_a_message(city: Municipality, supervisor: Client) -> None:
    with schema_context(city.schema_name):
        group = CounterGroup.objects.get()
    response = supervisor.post(
        f"/staff/booking/counters/{group.pk}/hours/", {"weekday": "0", "start": "11:00", "end": "14:00"}
    )
    assert response.status_code == 400
    assert "ほかの受付時間と重なっています。" in response.content.decode()


def test_settings_change_is_audited_with_before_and_after(city: Municipality, supervisor: Client) -> None:
    with schema_context(city.schema_name):
        current = {
            f: getattr(BookingSettings.objects.get_or_create(pk=1)[0], f)
            for f in ("opens_days_ahead", "closes_hours_before", "hold_minutes", "change_deadline_hours")
        }
    data: dict[str, Any] = {
        **current,
        "opens_days_ahead": 30,
        "max_persons": 4,
        "max_future_bookings": 1,
        "no_show_grace_minutes": 10,
        "closed_year_end": "on",
        "closed_on_holidays": "on",
    }
    supervisor.post("/staff/booking/settings/", data)
    with schema_context(city.schema_name):
        assert BookingSettings.objects.get().no_show_grace_minutes == 10
        event = AuditEvent.objects.get(action="booking.settings_changed")
    assert event.before["no_show_grace_minutes"] == 15
    assert event.after["no_show_grace_minutes"] == 10


def test_a_special_opening_needs_its_hours(city: Municipality, supervisor: Client) -> None:
    response = supervisor.post(
        "/staff/booking/calendar/",
        {"date": f"{next_weekday(6):%Y-%m-%d}", "kind": "open", "reason": "日曜開庁"},
    )
    assert response.status_code == 400
    assert "特別開庁の日は開始と終了を入力してください。" in response.content.decode()


def test_a_closure_on_a_booked_day_lists_the_booking_to_move_or_cancel(
    city: Municipality,
    supervisor: Client,
    staff: Client,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.BOOKING_MAIL_SYNC = True
    closed, other = next_weekday(2), next_weekday(3)
    with schema_context(city.schema_name):
        slots_sync(today=timezone.localdate())
        to_move = book(city, slot_at(closed, time(9, 0)), name="移動太郎")  # type: ignore[arg-type]
        to_cancel = book(city, slot_at(closed, time(9, 30)), name="取消花子")  # type: ignore[arg-type]
    response = supervisor.post(
        "/staff/booking/calendar/",
        {"date": f"{closed:%Y-%m-%d}", "kind": "closed", "reason": "庁舎点検"},
        follow=True,
    )
    assert "要対応の予約" in response.content.decode()
    with schema_context(city.schema_name):
        assert CalendarDay.objects.filter(date=closed, kind="closed").exists()

    page = staff.get("/staff/booking/affected/").content.decode()
    assert to_move.code in page
    assert to_cancel.code in page
    assert "移動太郎0" in page

    with schema_context(city.schema_name):
        target = slot_at(other, time(10, 0))
        assert target is not None
    staff.post(f"/staff/booking/reservations/{to_move.pk}/move/", {"slot": str(target.pk)})
    with schema_context(city.schema_name):
        to_move.refresh_from_db()
        assert to_move.slot_id == target.pk
        assert Slot.objects.get(pk=target.pk).taken == 1
        assert slot_at(closed, time(9, 0)).taken == 0  # type: ignore[union-attr]

    with django_capture_on_commit_callbacks(execute=True):
        staff.post(f"/staff/booking/reservations/{to_cancel.pk}/mark/", {"status": "cancelled"})
    with schema_context(city.schema_name):
        assert Reservation.objects.get(pk=to_cancel.pk).status == Reservation.Status.CANCELLED
    assert len(mail.outbox) == 1
    assert to_cancel.code in mail.outbox[0].subject

    assert "要対応の予約はありません。" in staff.get("/staff/booking/affected/").content.decode()
