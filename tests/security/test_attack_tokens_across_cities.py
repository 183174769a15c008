"""Issue 10, item 9: the signed manage and email-first links used constant salts, so a token made at one city
verified at another (for a booking code that exists at both).

Now they are salted with the city's schema. Manage links mailed before (the old constant salt) still work at
their own city for visits before settings.BOOKING_LEGACY_TOKEN_UNTIL, so no resident's mailed link breaks;
email-first links (30 minutes) with the old salt are refused.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import Reservation
from apps.booking.reservations.services import PersonInput, hold_create, reservation_confirm
from apps.booking.resident.services import LEGACY_MANAGE_SALT, email_link_token, manage_token
from apps.booking.tests.resident_helpers import application
from tenants.models import Municipality
from tests.factories import SlotFactory, visit_day


@pytest.fixture(autouse=True)
def _mail_sync(settings: Any) -> None:
    settings.BOOKING_MAIL_SYNC = True


def _book(code: str | None = None) -> Reservation:
    slot = SlotFactory.create(day=visit_day(), seats=4)
    hold = hold_create(slot_id=slot.pk, purpose_id=application().pk, persons=1, now=timezone.now())
    reservation = reservation_confirm(
        hold_token=hold.token,
        persons=[PersonInput(name="上尾 花子", birth_date=date(1980, 4, 1))],
        email="hanako@example.jp",
        phone="09012345678",
        submission_key=uuid.uuid4(),
        now=timezone.now(),
    )
    if code:
        Reservation.objects.filter(pk=reservation.pk).update(code=code)
        reservation.refresh_from_db()
    return reservation


def _legacy_token(reservation: Reservation) -> str:
    """A manage link as mailed before the per-city salt."""
    return signing.dumps(
        {"c": reservation.code, "u": int(reservation.slot.start.timestamp())},
        salt=LEGACY_MANAGE_SALT,
        compress=True,
    )


def test_a_manage_link_of_one_city_fails_at_another_with_the_same_code(
    city: Municipality, other_city: Municipality, city_client: Client, other_city_client: Client
) -> None:
    with schema_context(city.schema_name):
        ours = _book()
        token = manage_token(ours)
    with schema_context(other_city.schema_name):
        theirs = _book(code=ours.code)  # the same booking code exists at both cities
        assert theirs.code == ours.code
    assert city_client.get(f"/book/manage/{token}/").status_code == 200
    refused = other_city_client.get(f"/book/manage/{token}/")
    assert refused.status_code == 404
    assert "上尾 花子" not in refused.content.decode()
    assert other_city_client.post(f"/book/manage/{token}/", {"action": "cancel"}).status_code == 404
    with schema_context(other_city.schema_name):
        theirs.refresh_from_db()
        assert theirs.status == Reservation.Status.BOOKED


def test_a_link_mailed_with_the_old_salt_still_works_at_its_city(
    city_client: Client, in_city: Municipality, settings: Any
) -> None:
    reservation = _book()
    token = _legacy_token(reservation)
    deploy = timezone.now().astimezone(TOKYO).date()
    settings.BOOKING_LEGACY_TOKEN_UNTIL = (
        deploy + timedelta(days=181)
    ).isoformat()  # the deploy + the horizon
    page = city_client.get(f"/book/manage/{token}/")
    assert page.status_code == 200
    assert reservation.code in page.content.decode()
    # After the cut-over (every visit bookable at the deploy has passed) the old salt is refused.
    settings.BOOKING_LEGACY_TOKEN_UNTIL = (reservation.slot.start.astimezone(TOKYO).date()).isoformat()
    assert city_client.get(f"/book/manage/{token}/").status_code == 404
    settings.BOOKING_LEGACY_TOKEN_UNTIL = ""
    assert city_client.get(f"/book/manage/{token}/").status_code == 404


def test_an_old_salt_link_for_a_visit_after_the_cut_over_is_refused(
    city_client: Client, in_city: Municipality, settings: Any
) -> None:
    reservation = _book()
    settings.BOOKING_LEGACY_TOKEN_UNTIL = (
        timezone.now().astimezone(TOKYO).date() + timedelta(days=2)
    ).isoformat()
    late_visit = datetime.combine(visit_day(4), time(10, 0), TOKYO)  # after the cut-over: minted since
    forged = signing.dumps(
        {"c": reservation.code, "u": int(late_visit.timestamp())}, salt=LEGACY_MANAGE_SALT, compress=True
    )
    assert city_client.get(f"/book/manage/{forged}/").status_code == 404
    assert city_client.get(f"/book/manage/{manage_token(reservation)}/").status_code == 200


def test_an_email_first_link_of_one_city_fails_at_another(
    city: Municipality, other_city: Municipality, city_client: Client, other_city_client: Client
) -> None:
    with schema_context(city.schema_name):
        slot = SlotFactory.create(day=visit_day())
        token = email_link_token(
            slot_id=slot.pk, purpose_id=application().pk, persons=1, email="a@example.jp"
        )
        old = signing.dumps(
            {"s": slot.pk, "p": application().pk, "n": 1, "e": "a@example.jp"},
            salt="booking.email_first",
            compress=True,
        )
    assert city_client.get(f"/book/start/{token}/").status_code == 200
    assert other_city_client.get(f"/book/start/{token}/").status_code == 410
    assert (
        city_client.get(f"/book/start/{old}/").status_code == 410
    )  # 30-minute links: the old salt is dropped
