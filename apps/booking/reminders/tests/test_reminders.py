"""The day-before reminder: found by a scan, sent once, retried after a failure, never twice after a crash."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

import pytest
from django.core import mail
from django.core.mail import EmailMessage

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import Purpose, ReminderSent, Reservation
from apps.booking.reminders.services import compose_reminder, reminders_send_due, reminders_unknown
from apps.booking.reservations.services import (
    PersonInput,
    hold_create,
    reservation_cancel,
    reservation_confirm,
)
from apps.security.actors import Actor
from tenants.models import Municipality
from tests.factories import ReminderSentFactory, SlotFactory

NOW = datetime(2026, 12, 6, 18, 0, tzinfo=TOKYO)  # the evening before Monday 12/7


def _booking(day: date, email: str = "taro@example.jp") -> Reservation:
    purpose = Purpose.objects.get(code="application")
    slot = SlotFactory.create(day=day, at=time(9, 0), seats=4)
    hold = hold_create(slot_id=slot.pk, purpose_id=purpose.pk, persons=1, now=NOW - timedelta(days=3))
    return reservation_confirm(
        hold_token=hold.token,
        persons=[PersonInput(name=f"住民{uuid.uuid4().hex[:4]}", birth_date=date(1985, 5, 5))],
        email=email,
        phone="",
        submission_key=uuid.uuid4(),
        now=NOW - timedelta(days=3),
    )


def test_tomorrows_bookings_get_one_reminder_however_often_the_scan_runs(in_city: Municipality) -> None:
    tomorrow = _booking(date(2026, 12, 7))
    _booking(date(2026, 12, 8))  # the day after: not yet
    _booking(date(2026, 12, 7), email="")  # no email: nothing to send
    assert reminders_send_due(now=NOW) == {"sent": 1, "failed": 0}
    assert reminders_send_due(now=NOW + timedelta(minutes=10)) == {"sent": 0, "failed": 0}
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["taro@example.jp"]
    assert tomorrow.code in mail.outbox[0].subject
    assert "9:00" in mail.outbox[0].body or "09:00" in mail.outbox[0].body


def test_a_cancelled_booking_gets_no_reminder(in_city: Municipality) -> None:
    reservation = _booking(date(2026, 12, 7))
    reservation_cancel(reservation_id=reservation.pk, now=NOW - timedelta(days=2), actor=Actor.resident())
    assert reminders_send_due(now=NOW) == {"sent": 0, "failed": 0}


def test_a_failed_send_is_retried_by_the_next_scan(in_city: Municipality) -> None:
    _booking(date(2026, 12, 7))

    def broken(reservation: Reservation) -> EmailMessage:
        raise ConnectionRefusedError("smtp down")

    assert reminders_send_due(now=NOW, compose=broken) == {"sent": 0, "failed": 1}
    assert "smtp down" in ReminderSent.objects.get().last_error
    assert reminders_send_due(now=NOW, compose=compose_reminder) == {"sent": 1, "failed": 0}
    assert ReminderSent.objects.get().attempts == 2
    assert len(mail.outbox) == 1


def test_a_worker_killed_mid_send_never_sends_twice(in_city: Municipality) -> None:
    reservation = _booking(date(2026, 12, 7))
    # What a killed worker leaves: the claim row, no error, no sent_at.
    ReminderSentFactory.create(reservation=reservation, kind="day_before", attempts=1)
    assert reminders_send_due(now=NOW) == {"sent": 0, "failed": 0}
    assert mail.outbox == []
    ReminderSent.objects.update(claimed_at=NOW - timedelta(hours=1))
    assert [r.reservation_id for r in reminders_unknown(now=NOW)] == [reservation.pk]


@pytest.mark.parametrize("language", ["ja", "en"])
def test_reminder_speaks_the_residents_language(in_city: Municipality, language: str) -> None:
    reservation = _booking(date(2026, 12, 7))
    Reservation.objects.filter(pk=reservation.pk).update(language=language)
    reservation.refresh_from_db()
    message = compose_reminder(reservation)
    assert ("明日のご予約" in message.subject) is (language == "ja")
