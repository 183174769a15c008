"""Booking mails: senders racing for one outbox row send one mail. Eight connections at once (the worker, a
redelivered message, the request's fallback, scans of two beat ticks), while the first sender is still sending.

Committed data in a city made for this module (the other connections must see it), dropped afterwards.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.db import connections, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.models import BookingMail, Purpose
from apps.booking.reservations import outbox, tasks
from apps.booking.reservations.mail import send_reservation_mail
from apps.booking.reservations.services import PersonInput, hold_create, reservation_confirm
from base import tasks as base_tasks
from base.cache import Breaker
from tenants.db import use_public_schema
from tenants.models import Municipality
from tenants.services import MunicipalityInput, municipality_create
from tests.factories import SlotFactory, visit_day

SLUG = "mailrace"
SENDERS = 8
pytestmark = pytest.mark.slow


class _LostBroker:
    """Accepts every message and delivers none (Redis took it and died)."""

    name = "send_booking_mail"

    def delay(self, mail_id: int) -> None:
        pass


@pytest.fixture(scope="module")
def race_city(django_db_setup: None, django_db_blocker: Any) -> Iterator[Municipality]:
    with django_db_blocker.unblock():
        city = municipality_create(
            data=MunicipalityInput(
                slug=SLUG, lg_code="119996", name_ja="競送市", name_en="Mailrace", prefecture="埼玉県"
            ),
            domains=[f"{SLUG}.localhost"],
        )
        yield city
        use_public_schema()
        city.delete(force_drop=True)


def _committed_booking(email: str) -> int:
    """A booking committed with its mail row, whose message the broker lost; the row's id."""
    with (
        schema_context(SLUG),
        mock.patch.object(tasks, "send_booking_mail", _LostBroker()),
        mock.patch.object(base_tasks, "BROKER", Breaker("Celery broker")),
    ):
        purpose = Purpose.objects.get(code="application")
        slot = SlotFactory.create(day=visit_day(5), seats=8)
        now = timezone.now()
        hold = hold_create(slot_id=slot.pk, purpose_id=purpose.pk, persons=1, now=now)
        reservation = reservation_confirm(
            hold_token=hold.token,
            persons=[PersonInput(name=f"住民{uuid.uuid4().hex[:4]}", birth_date=date(1980, 1, 2))],
            email=email,
            phone="",
            submission_key=uuid.uuid4(),
            now=now,
        )
        return BookingMail.objects.get(reservation=reservation).pk


def test_eight_senders_at_once_send_one_mail(
    race_city: Municipality, django_db_blocker: Any, settings: Any
) -> None:
    settings.BOOKING_MAIL_SYNC = False
    with django_db_blocker.unblock():
        mail_id = _committed_booking("race@example.jp")
        outcomes: list[str] = []
        others_done = threading.Event()
        sending: list[int] = []

        def slow_send(reservation_id: int, kind: str, base_url: str) -> bool:
            # The sender that won holds its claim open until every other sender has given up.
            sending.append(reservation_id)
            others_done.wait(timeout=20)
            return send_reservation_mail(reservation_id, kind, base_url)

        def sender(index: int, barrier: threading.Barrier) -> None:
            try:
                with schema_context(SLUG):
                    barrier.wait()
                    if index % 2:
                        outcomes.append(outbox.booking_mail_send(mail_id, send=slow_send))
                    else:
                        later = timezone.now() + timedelta(minutes=2)
                        result = outbox.booking_mails_send_due(now=later, send=slow_send)
                        outcomes.append("sent" if result["sent"] else "skipped")
            except Exception as exc:  # any failure is what the test must show
                outcomes.append(f"error: {exc!r}")
            finally:
                if len(outcomes) >= SENDERS - 1:
                    others_done.set()
                connections.close_all()

        barrier = threading.Barrier(SENDERS)
        threads = [threading.Thread(target=sender, args=(i, barrier)) for i in range(SENDERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert sorted(outcomes) == ["sent"] + ["skipped"] * (SENDERS - 1), outcomes
        assert len(sending) == 1
        assert len([m for m in mail.outbox if "race@example.jp" in m.to]) == 1
        with schema_context(SLUG):
            row = BookingMail.objects.get(pk=mail_id)
            assert (row.attempts, row.sent_at is not None) == (1, True)


def test_a_scan_skips_a_row_another_sender_is_claiming_without_waiting(
    race_city: Municipality, django_db_blocker: Any, settings: Any
) -> None:
    settings.BOOKING_MAIL_SYNC = False
    with django_db_blocker.unblock():
        mail_id = _committed_booking("locked@example.jp")
        results: list[dict[str, int]] = []

        def scan() -> None:
            try:
                with schema_context(SLUG):
                    results.append(outbox.booking_mails_send_due(now=timezone.now() + timedelta(minutes=2)))
            finally:
                connections.close_all()

        with schema_context(SLUG), transaction.atomic():
            # Another sender, between its SELECT ... FOR UPDATE and its commit.
            BookingMail.objects.select_for_update().get(pk=mail_id)
            other = threading.Thread(target=scan)
            other.start()
            other.join(timeout=20)
            assert not other.is_alive(), "the scan waited for the row lock instead of skipping the row"
        assert results == [{"sent": 0, "failed": 0, "unknown": 0}]
        assert not [m for m in mail.outbox if "locked@example.jp" in m.to]
        scan()  # the lock released, the row unclaimed: the next tick sends it
        assert results[-1]["sent"] == 1
        assert len([m for m in mail.outbox if "locked@example.jp" in m.to]) == 1
