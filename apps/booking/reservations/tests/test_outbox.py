"""Booking mails exactly once (the outbox): one confirmation per booking whether the broker is up, down, or loses
the message, and whether the mail server fails once; a sender that died mid-send is reported, never resent.

The broker is a stand-in that queues ids (or refuses, as kombu does when Redis is away); "the worker" runs what
it queued. Mails land in Django's locmem outbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import date, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django_tenants.utils import schema_context
from kombu.exceptions import OperationalError as KombuOperationalError

from apps.booking.models import BookingMail, Purpose, Reservation
from apps.booking.reservations import outbox, tasks
from apps.booking.reservations.services import (
    PersonInput,
    hold_create,
    reservation_cancel,
    reservation_confirm,
)
from apps.booking.resident.services import reservation_move
from apps.security.actors import Actor
from apps.security.models import Role
from base import tasks as base_tasks
from base.cache import Breaker
from tenants.models import Municipality
from tests.factories import SlotFactory, role_client, visit_day

Callbacks = Callable[..., AbstractContextManager[Any]]


class Broker:
    """`send_booking_mail` as the request sees it: `delay` queues the id, or raises as kombu does with Redis away."""

    name = "send_booking_mail"

    def __init__(self, *, refusing: bool = False) -> None:
        self.refusing = refusing
        self.queue: list[int] = []

    def delay(self, mail_id: int) -> None:
        if self.refusing:
            raise KombuOperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.queue.append(mail_id)

    def work(self) -> list[str]:
        """The worker takes every queued message (it may be delivered again: the queue is kept)."""
        return [outbox.booking_mail_send(mail_id) for mail_id in self.queue]


@pytest.fixture
def broker(in_city: Municipality, settings: Any) -> Iterator[Broker]:
    settings.BOOKING_MAIL_SYNC = False  # through the broker, as in production
    stand_in = Broker()
    with (
        mock.patch.object(tasks, "send_booking_mail", stand_in),
        mock.patch.object(base_tasks, "BROKER", Breaker("Celery broker")),
    ):
        yield stand_in


def _book(callbacks: Callbacks, email: str = "taro@example.jp") -> Reservation:
    """A resident's booking, its transaction committed (the on_commit callbacks run)."""
    purpose = Purpose.objects.get(code="application")
    slot = SlotFactory.create(day=visit_day(5), seats=4)
    now = datetime.now().astimezone()
    with callbacks(execute=True):
        hold = hold_create(slot_id=slot.pk, purpose_id=purpose.pk, persons=1, now=now)
        return reservation_confirm(
            hold_token=hold.token,
            persons=[PersonInput(name=f"住民{uuid.uuid4().hex[:4]}", birth_date=date(1985, 5, 5))],
            email=email,
            phone="",
            submission_key=uuid.uuid4(),
            now=now,
        )


def _later(minutes: float) -> datetime:
    return datetime.now().astimezone() + timedelta(minutes=minutes)


def _mails_to(address: str) -> list[str]:
    return [str(m.subject) for m in mail.outbox if address in m.to]


def test_all_well_the_worker_sends_one_mail_and_a_redelivery_none(
    broker: Broker, django_capture_on_commit_callbacks: Callbacks
) -> None:
    reservation = _book(django_capture_on_commit_callbacks)
    assert mail.outbox == []  # not in the request: the worker sends it
    assert broker.work() == ["sent"]
    assert broker.work() == ["skipped"]  # the same message delivered again (an acknowledgement lost)
    assert outbox.booking_mails_send_due(now=_later(60)) == {"sent": 0, "failed": 0, "unknown": 0}
    assert len(_mails_to("taro@example.jp")) == 1
    assert reservation.code in mail.outbox[0].subject
    row = BookingMail.objects.get()
    assert (row.kind, row.attempts, row.sent_at is not None) == ("booked", 1, True)


def test_broker_down_the_request_sends_it_once(
    broker: Broker, django_capture_on_commit_callbacks: Callbacks
) -> None:
    broker.refusing = True
    reservation = _book(django_capture_on_commit_callbacks)
    assert _mails_to("taro@example.jp") == [mail.outbox[0].subject]  # sent in the request
    assert reservation.code in mail.outbox[0].subject
    assert outbox.booking_mails_send_due(now=_later(60)) == {"sent": 0, "failed": 0, "unknown": 0}
    assert len(mail.outbox) == 1


def test_a_lost_message_is_sent_by_the_scan_once(
    broker: Broker, django_capture_on_commit_callbacks: Callbacks
) -> None:
    _book(django_capture_on_commit_callbacks)
    assert len(broker.queue) == 1  # accepted by a broker that then lost it: nobody reads this queue
    assert outbox.booking_mails_send_due(now=_later(0)) == {"sent": 0, "failed": 0, "unknown": 0}
    assert mail.outbox == []  # too early: the worker may still be on it
    assert outbox.booking_mails_send_due(now=_later(2)) == {"sent": 1, "failed": 0, "unknown": 0}
    assert broker.work() == ["skipped"]  # the message turns up after all: nothing more
    assert outbox.booking_mails_send_due(now=_later(60)) == {"sent": 0, "failed": 0, "unknown": 0}
    assert len(_mails_to("taro@example.jp")) == 1


def test_a_failed_send_is_retried_later_then_left_for_staff(
    broker: Broker, django_capture_on_commit_callbacks: Callbacks
) -> None:
    _book(django_capture_on_commit_callbacks)

    def smtp_down(reservation_id: int, kind: str, base_url: str) -> bool:
        raise ConnectionRefusedError("smtp down")

    row = BookingMail.objects.get()
    assert outbox.booking_mail_send(row.pk, send=smtp_down) == "failed"
    assert "smtp down" in BookingMail.objects.get().last_error
    # Not at once (a minute's wait first), then once and for good.
    assert outbox.booking_mails_send_due(now=_later(0))["sent"] == 0
    assert outbox.booking_mails_send_due(now=_later(2)) == {"sent": 1, "failed": 0, "unknown": 0}
    assert outbox.booking_mails_send_due(now=_later(60))["sent"] == 0
    assert broker.work() == ["skipped"]
    assert len(_mails_to("taro@example.jp")) == 1
    assert BookingMail.objects.get().attempts == 2

    # A mail that never gets through: MAX_ATTEMPTS tries, then listed, no more tries.
    second = _book(django_capture_on_commit_callbacks, email="hanako@example.jp")
    failing = BookingMail.objects.get(reservation=second)
    outbox.booking_mail_send(failing.pk, send=smtp_down)
    for minutes in (2, 5, 10, 20, 40, 80):
        outbox.booking_mails_send_due(now=_later(minutes), send=smtp_down)
    failing.refresh_from_db()
    assert (failing.attempts, failing.sent_at) == (outbox.MAX_ATTEMPTS, None)
    assert [m.pk for m in outbox.booking_mails_failed()] == [failing.pk]
    assert _mails_to("hanako@example.jp") == []


def test_a_sender_that_died_mid_send_is_reported_never_resent(
    broker: Broker, django_capture_on_commit_callbacks: Callbacks
) -> None:
    _book(django_capture_on_commit_callbacks)
    # What a killed worker leaves: claimed, no error, not sent.
    BookingMail.objects.update(claimed_at=_later(-1), attempts=1)
    assert broker.work() == ["skipped"]
    assert outbox.booking_mails_send_due(now=_later(1)) == {"sent": 0, "failed": 0, "unknown": 0}
    assert outbox.booking_mails_send_due(now=_later(15)) == {"sent": 0, "failed": 0, "unknown": 1}
    assert [m.kind for m in outbox.booking_mails_unknown(now=_later(15))] == ["booked"]
    assert mail.outbox == []


def test_booked_changed_cancelled_one_mail_each_in_sync_mode(
    in_city: Municipality, settings: Any, django_capture_on_commit_callbacks: Callbacks
) -> None:
    settings.BOOKING_MAIL_SYNC = True
    reservation = _book(django_capture_on_commit_callbacks)
    other = SlotFactory.create(day=visit_day(6), seats=4)
    now = datetime.now().astimezone()
    with django_capture_on_commit_callbacks(execute=True):
        reservation_move(reservation_id=reservation.pk, new_slot_id=other.pk, now=now)
    with django_capture_on_commit_callbacks(execute=True):
        reservation_cancel(reservation_id=reservation.pk, now=now, actor=Actor.resident())
    assert [s.split("（")[0].split("予約を")[1] for s in _mails_to("taro@example.jp")] == [
        "受け付けました",
        "変更しました",
        "取り消しました",
    ]
    assert list(BookingMail.objects.order_by("pk").values_list("kind", flat=True)) == [
        "booked",
        "changed",
        "cancelled",
    ]
    assert not BookingMail.objects.filter(sent_at__isnull=True).exists()


def test_no_email_no_mail_row(broker: Broker, django_capture_on_commit_callbacks: Callbacks) -> None:
    _book(django_capture_on_commit_callbacks, email="")
    assert not BookingMail.objects.exists()
    assert broker.queue == []


def test_a_rolled_back_booking_leaves_no_mail_row(broker: Broker) -> None:
    purpose = Purpose.objects.get(code="application")
    slot = SlotFactory.create(day=visit_day(5), seats=4)
    now = datetime.now().astimezone()
    hold = hold_create(slot_id=slot.pk, purpose_id=purpose.pk, persons=1, now=now)

    with (
        mock.patch("apps.booking.reservations.services.persons_create", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        reservation_confirm(
            hold_token=hold.token,
            persons=[PersonInput(name="窓口 太郎", birth_date=date(1985, 5, 5))],
            email="taro@example.jp",
            phone="",
            submission_key=uuid.uuid4(),
            now=now,
        )
    assert not Reservation.objects.exists()
    assert not BookingMail.objects.exists()
    assert broker.queue == []


def test_another_city_never_sees_sends_or_counts_the_mails(
    city: Municipality,
    other_city: Municipality,
    settings: Any,
    django_capture_on_commit_callbacks: Callbacks,
) -> None:
    settings.BOOKING_MAIL_SYNC = False
    stand_in = Broker()
    with (
        mock.patch.object(tasks, "send_booking_mail", stand_in),
        mock.patch.object(base_tasks, "BROKER", Breaker("Celery broker")),
    ):
        with schema_context(city.schema_name):
            _book(django_capture_on_commit_callbacks)
            mail_id = BookingMail.objects.get().pk
            BookingMail.objects.update(claimed_at=_later(-60), attempts=1)  # an unknown claim, too
            _book(django_capture_on_commit_callbacks, email="hanako@example.jp")  # and one left unsent
        with schema_context(other_city.schema_name):
            assert BookingMail.objects.count() == 0
            assert not BookingMail.objects.filter(pk=mail_id).exists()
            assert outbox.booking_mails_send_due(now=_later(60)) == {"sent": 0, "failed": 0, "unknown": 0}
            assert outbox.booking_mail_send(mail_id) == "skipped"
            assert outbox.booking_mails_unknown(now=_later(60)) == []
        assert mail.outbox == []
        with schema_context(city.schema_name):
            assert outbox.booking_mails_send_due(now=_later(60)) == {"sent": 1, "failed": 0, "unknown": 1}
    assert _mails_to("hanako@example.jp")
    assert not _mails_to("taro@example.jp")


def test_staff_see_on_the_day_a_booking_mail_that_may_not_have_left_or_failed(
    city: Municipality, settings: Any, django_capture_on_commit_callbacks: Callbacks
) -> None:
    settings.BOOKING_MAIL_SYNC = True
    staff = role_client(city, Role.STAFF)
    with schema_context(city.schema_name):
        unknown, failed, sent = (
            _book(django_capture_on_commit_callbacks, email=f"{name}@example.jp")
            for name in ("unknown", "failed", "sent")
        )
        BookingMail.objects.filter(reservation=unknown).update(sent_at=None, claimed_at=_later(-11))
        BookingMail.objects.filter(reservation=failed).update(
            sent_at=None, attempts=outbox.MAX_ATTEMPTS, last_error="SMTPRecipientsRefused: 550"
        )
    page = staff.get(f"/staff/booking/day/?date={visit_day(5):%Y-%m-%d}").content.decode()
    rows = {r.code: page.split(r.code, 1)[1].split("</tr>", 1)[0] for r in (unknown, failed, sent)}
    assert "予約メール：送信不明" in rows[unknown.code]
    assert "予約メール：送信失敗" in rows[failed.code]
    assert "予約メール" not in rows[sent.code]
