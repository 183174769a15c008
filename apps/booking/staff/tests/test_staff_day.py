"""The counter's day: who may see it, arrival/done/no-show/cancel, phone bookings and walk-ins, slots, seats."""

from __future__ import annotations

import itertools
from datetime import date, time, timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.models import CounterGroup, Purpose, Reservation, Slot
from apps.booking.reservations.services import PersonInput
from apps.booking.staff.services import reservation_book_by_staff
from apps.security.actors import as_actor
from apps.security.audit_models import AuditEvent
from apps.security.models import Role
from tenants.models import Municipality
from tests.factories import SlotFactory, UserFactory, role_client

DAY_URL = "/staff/booking/day/"


_birth_years = itertools.count(1940)  # a new person each time: one booking per person and purpose


def book(
    city: Municipality,
    slot: Slot,
    persons: int = 1,
    email: str = "hanako@example.jp",
    name: str = "埼玉花子",
    channel: str = Reservation.Channel.PHONE,
) -> Reservation:
    """A booking made at the counter (by phone unless `channel` says walk-in) by a staff member."""
    with schema_context(city.schema_name):
        staff = UserFactory(username="booking-helper", role=Role.STAFF)
    return reservation_book_by_staff(
        slot_id=slot.pk,
        purpose_id=Purpose.objects.get(code="application").pk,
        persons=[
            PersonInput(name=f"{name}{i}", kana="さいたま はなこ", birth_date=date(next(_birth_years), 5, 1))
            for i in range(persons)
        ],
        phone="048-000-0000",
        email=email,
        channel=channel,
        now=timezone.now(),
        actor=as_actor(staff),
    )


def day_url(day: date) -> str:
    return f"{DAY_URL}?date={day:%Y-%m-%d}"


@pytest.fixture
def staff(city: Municipality) -> Client:
    return role_client(city, Role.STAFF)


@pytest.fixture
def supervisor(city: Municipality) -> Client:
    return role_client(city, Role.SUPERVISOR)


TOMORROW = timezone.localdate() + timedelta(days=1)
YESTERDAY = timezone.localdate() - timedelta(days=1)


def test_counter_staff_see_the_day_with_names_kana_and_phone_and_the_view_is_audited(
    city: Municipality, staff: Client
) -> None:
    with schema_context(city.schema_name):
        reservation = book(city, SlotFactory.create(day=TOMORROW, at=time(9, 0)), persons=2)
    page = staff.get(day_url(TOMORROW)).content.decode()
    assert reservation.code in page
    assert "埼玉花子0（さいたま はなこ）" in page
    assert "埼玉花子1" in page
    assert "048-000-0000" in page
    assert "2 / 2 席" in page
    with schema_context(city.schema_name):
        assert AuditEvent.objects.filter(
            action="personal_data.viewed", target__startswith="booking:day"
        ).exists()


def test_an_auditor_may_not_open_the_day(city: Municipality) -> None:
    assert role_client(city, Role.AUDITOR).get(DAY_URL).status_code == 403


def test_another_citys_staff_never_see_this_citys_bookings(
    city: Municipality, other_city: Municipality
) -> None:
    with schema_context(city.schema_name):
        reservation = book(city, SlotFactory.create(day=TOMORROW, at=time(9, 0)))
    okegawa = role_client(other_city, Role.STAFF, "okegawa-counter")
    page = okegawa.get(day_url(TOMORROW))
    assert page.status_code == 200
    assert reservation.code not in page.content.decode()


def mark(client: Client, reservation: Reservation, status: str) -> Any:
    return client.post(f"/staff/booking/reservations/{reservation.pk}/mark/", {"status": status}, follow=True)


def test_arrived_then_done(city: Municipality, staff: Client) -> None:
    with schema_context(city.schema_name):
        reservation = book(city, SlotFactory.create(day=TOMORROW, at=time(9, 0)))
    assert "「来庁」にしました" in mark(staff, reservation, "arrived").content.decode()
    mark(staff, reservation, "done")
    with schema_context(city.schema_name):
        reservation.refresh_from_db()
        assert reservation.status == Reservation.Status.DONE
        assert AuditEvent.objects.filter(action="booking.reservation_done", after={"status": "done"}).exists()


def test_done_cannot_go_back_and_a_booking_cannot_be_done_before_arriving(
    city: Municipality, staff: Client
) -> None:
    with schema_context(city.schema_name):
        reservation = book(city, SlotFactory.create(day=TOMORROW, at=time(9, 0)))
    response = mark(staff, reservation, "done")
    assert response.status_code == 409
    assert "「予約済み」の予約を「完了」にはできません。" in response.content.decode()


def test_no_show_only_after_the_grace_time(city: Municipality, staff: Client) -> None:
    with schema_context(city.schema_name):
        upcoming = book(city, SlotFactory.create(day=TOMORROW, at=time(9, 0)))
        past = book(city, SlotFactory.create(day=YESTERDAY, at=time(9, 0)), name="川越次郎")
    early = mark(staff, upcoming, "no_show")
    assert early.status_code == 409
    assert "不来庁にできるのは、予約時刻の15分後からです。" in early.content.decode()
    assert mark(staff, past, "no_show").status_code == 200
    with schema_context(city.schema_name):
        past.refresh_from_db()
        assert past.status == Reservation.Status.NO_SHOW


def test_cancel_gives_the_seats_back_and_mails_the_resident(
    city: Municipality, staff: Client, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.BOOKING_MAIL_SYNC = True
    with schema_context(city.schema_name):
        slot = SlotFactory.create(day=TOMORROW, at=time(9, 0))
        reservation = book(city, slot, persons=2)
    with django_capture_on_commit_callbacks(execute=True):
        mark(staff, reservation, "arrived")
        mark(staff, reservation, "cancelled")
    with schema_context(city.schema_name):
        slot.refresh_from_db()
        reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.CANCELLED
    assert slot.taken == 0
    assert [m.to for m in mail.outbox] == [["hanako@example.jp"]]
    assert reservation.code in mail.outbox[0].subject


def staff_booking(slot: Slot, channel: str, name: str = "上尾一郎") -> dict[str, str]:
    return {
        "slot": str(slot.pk),
        "channel": channel,
        "purpose": str(Purpose.objects.get(code="application").pk),
        "name_1": name,
        "kana_1": "あげお いちろう",
        "birth_1": "1950-01-02",
        "phone": "090-1111-2222",
        "email": "",
    }


def test_a_walk_in_beyond_capacity_is_refused_in_japanese(city: Municipality, staff: Client) -> None:
    with schema_context(city.schema_name):
        slot = SlotFactory.create(day=TOMORROW, at=time(9, 0), seats=1)
        book(city, slot)
        data = staff_booking(slot, "walk_in")
    response = staff.post(f"/staff/booking/day/book/?date={TOMORROW:%Y-%m-%d}", data)
    assert response.status_code == 400
    assert "この時間は満席です。" in response.content.decode()
    with schema_context(city.schema_name):
        assert Reservation.objects.filter(channel="walk_in").count() == 0


def test_a_phone_booking_may_use_the_seat_kept_for_staff(city: Municipality, staff: Client) -> None:
    with schema_context(city.schema_name):
        slot = SlotFactory.create(day=TOMORROW, at=time(9, 0), seats=2, staff_seats=1)
        book(
            city, slot, channel=Reservation.Channel.WALK_IN
        )  # not a phone booking: the one below is found by it
        assert Slot.objects.get(pk=slot.pk).free_for_residents == 0
        data = staff_booking(slot, "phone")
    response = staff.post(f"/staff/booking/day/book/?date={TOMORROW:%Y-%m-%d}", data, follow=True)
    assert "を受け付けました" in response.content.decode()
    with schema_context(city.schema_name):
        phone = Reservation.objects.get(channel="phone")
        assert phone.persons.get().name == "上尾一郎"
        assert Slot.objects.get(pk=slot.pk).taken == 2
        assert AuditEvent.objects.filter(
            action="booking.reservation_phone", target=f"Reservation:{phone.pk}"
        ).exists()


def test_blocking_a_slot_is_audited_and_refuses_walk_ins(city: Municipality, staff: Client) -> None:
    with schema_context(city.schema_name):
        slot = SlotFactory.create(day=TOMORROW, at=time(9, 0))
    staff.post(f"/staff/booking/slots/{slot.pk}/block/", {"blocked": "1"})
    with schema_context(city.schema_name):
        assert Slot.objects.get(pk=slot.pk).blocked
        assert AuditEvent.objects.filter(action="booking.slot_blocked", target=f"Slot:{slot.pk}").exists()
    staff.post(f"/staff/booking/slots/{slot.pk}/block/", {"blocked": "0"})
    with schema_context(city.schema_name):
        assert not Slot.objects.get(pk=slot.pk).blocked


def test_a_supervisor_raises_a_frames_seats_with_a_reason_audited(
    city: Municipality, supervisor: Client, staff: Client
) -> None:
    with schema_context(city.schema_name):
        slot = SlotFactory.create(day=TOMORROW, at=time(9, 0), seats=2)
    url = f"/staff/booking/slots/{slot.pk}/seats/"
    assert staff.post(url, {"seats": "3", "reason": "応援職員"}).status_code == 403
    supervisor.post(url, {"seats": "3", "reason": "応援職員が1名"})
    with schema_context(city.schema_name):
        assert Slot.objects.get(pk=slot.pk).seats == 3
        event = AuditEvent.objects.get(action="booking.slot_seats_raised")
    assert event.before == {"seats": 2}
    assert event.after == {"seats": 3, "reason": "応援職員が1名"}
    refused = supervisor.post(url, {"seats": "2", "reason": "減らす"})
    assert refused.status_code == 409
    assert "今の席数（3）より多く" in refused.content.decode()


def test_the_day_view_costs_the_same_queries_for_2_and_20_bookings(city: Municipality, staff: Client) -> None:
    # The count itself depends on the cache backend (the database cache's reads are queries, Redis's are not);
    # what must hold is that it does not grow with the bookings.
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            staff.get(day_url(TOMORROW))
        return len(captured)

    with schema_context(city.schema_name):
        slot = SlotFactory.create(day=TOMORROW, at=time(9, 0), seats=40)
        for i in range(2):
            book(city, slot, persons=2, name=f"佐藤{i}")
    staff.get(day_url(TOMORROW))  # the session's first request settles its own rows
    few = queries()
    with schema_context(city.schema_name):
        for i in range(18):
            book(city, slot, persons=1, name=f"鈴木{i}")
        SlotFactory.create(day=TOMORROW, at=time(10, 0))
    assert queries() == few
    page = staff.get(day_url(TOMORROW))
    assert page.content.decode().count("<tr>") >= 20


def test_the_printable_list_links_its_print_stylesheet_and_has_no_buttons(
    city: Municipality, staff: Client
) -> None:
    with schema_context(city.schema_name):
        reservation = book(city, SlotFactory.create(day=TOMORROW, at=time(9, 0)))
    page = staff.get(f"/staff/booking/day/print/?date={TOMORROW:%Y-%m-%d}").content.decode()
    assert "css/print.css" in page
    assert reservation.code in page
    assert "/mark/" not in page
    assert "/block/" not in page
    assert "<script" not in page


def test_saving_the_counter_keeps_a_frames_raised_seats(city: Municipality, supervisor: Client) -> None:
    from apps.booking.calendar.services import COUNTER_FIELDS, counter_group_save

    with schema_context(city.schema_name):
        group = CounterGroup.objects.get()
        plain = SlotFactory.create(day=TOMORROW, at=time(9, 0), seats=group.seats)
        raised = SlotFactory.create(day=TOMORROW, at=time(9, 30), seats=group.seats)
    supervisor.post(
        f"/staff/booking/slots/{raised.pk}/seats/", {"seats": str(group.seats + 2), "reason": "応援"}
    )
    with schema_context(city.schema_name):
        values = {name: getattr(group, name) for name in COUNTER_FIELDS}
        actor = as_actor(UserFactory(username="counter-saver", role=Role.SUPERVISOR))
        counter_group_save(group_id=group.pk, values={**values, "seats": group.seats + 1}, actor=actor)
        assert Slot.objects.get(pk=plain.pk).seats == group.seats + 1  # the new capacity
        assert Slot.objects.get(pk=raised.pk).seats == group.seats + 2  # the supervisor's raise is kept
        counter_group_save(group_id=group.pk, values={**values, "seats": group.seats + 5}, actor=actor)
        assert Slot.objects.get(pk=raised.pk).seats == group.seats + 5  # unless the new capacity is higher


def test_a_phone_pickup_stores_the_notice_number_normalised_and_refuses_a_bad_one(
    city: Municipality, staff: Client
) -> None:
    from tests.factories import make_card

    with schema_context(city.schema_name):
        slot = SlotFactory.create(day=TOMORROW, at=time(9, 0), seats=2)
        make_card(notice_number="K7M-204815", birth_date=date(1950, 1, 2))
        data = {**staff_booking(slot, "phone"), "purpose": str(Purpose.objects.get(code="pickup").pk)}
    bad = staff.post(f"/staff/booking/day/book/?date={TOMORROW:%Y-%m-%d}", {**data, "notice_1": "K7M-20481"})
    assert bad.status_code == 400
    assert "英数字3文字・ハイフン・数字6桁" in bad.content.decode()
    staff.post(
        f"/staff/booking/day/book/?date={TOMORROW:%Y-%m-%d}", {**data, "notice_1": "ｋ７ｍ　２０４８１５"}
    )
    with schema_context(city.schema_name):
        assert Reservation.objects.get(channel="phone").persons.get().notice_number == "K7M-204815"


def test_the_day_shows_a_day_before_mail_that_may_not_have_left_or_failed(
    city: Municipality, staff: Client
) -> None:
    """A worker killed while sending (tests/faults/test_worker_killed.py) leaves a claim that is never retried
    ("at most once"): staff see it on the day, to call the resident if it matters."""
    from apps.booking.models import ReminderSent
    from apps.booking.reminders.services import DAY_BEFORE, MAX_ATTEMPTS, STALE_CLAIM

    long_ago = timezone.now() - STALE_CLAIM - timedelta(minutes=1)
    with schema_context(city.schema_name):
        unknown = book(city, SlotFactory.create(day=TOMORROW, at=time(9, 0)), email="a@example.jp")
        failed = book(city, SlotFactory.create(day=TOMORROW, at=time(9, 30)), email="b@example.jp")
        sent = book(city, SlotFactory.create(day=TOMORROW, at=time(10, 0)), email="c@example.jp")
        in_flight = book(city, SlotFactory.create(day=TOMORROW, at=time(10, 30)), email="d@example.jp")
        ReminderSent.objects.create(reservation=unknown, kind=DAY_BEFORE)
        ReminderSent.objects.create(
            reservation=failed, kind=DAY_BEFORE, attempts=MAX_ATTEMPTS, last_error="SMTP 550"
        )
        ReminderSent.objects.create(reservation=sent, kind=DAY_BEFORE, sent_at=timezone.now())
        ReminderSent.objects.create(reservation=in_flight, kind=DAY_BEFORE)  # just claimed: still being sent
        ReminderSent.objects.filter(reservation__in=[unknown, failed, sent]).update(claimed_at=long_ago)
    page = staff.get(day_url(TOMORROW)).content.decode()
    rows = {
        code: page.split(code, 1)[1].split("</tr>", 1)[0] for code in (unknown.code, failed.code, sent.code)
    }
    rows[in_flight.code] = page.split(in_flight.code, 1)[1].split("</tr>", 1)[0]
    assert "前日メール：送信不明" in rows[unknown.code]
    assert "前日メール：送信失敗" in rows[failed.code]
    assert "前日メール" not in rows[sent.code]
    assert "前日メール" not in rows[in_flight.code]
