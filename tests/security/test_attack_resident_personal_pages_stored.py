"""Issue 10, item 9: the resident manage page (names, dates of birth, contact) was sent without
`Cache-Control: no-store`, so a shared phone's or a library PC's browser cache, or a proxy, could keep it.

Now every resident page showing a booking's personal data, or the data being typed, says no-store: the manage page,
the change page, the done page, the form, the find page and the email-first start page.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from apps.booking.models import BookingSettings, Reservation
from apps.booking.reservations.services import PersonInput, hold_create, reservation_confirm
from apps.booking.resident.services import email_link_token, manage_token
from apps.booking.tests.resident_helpers import application, hidden, hold_url, person_data
from tenants.models import Municipality
from tests.factories import SlotFactory, visit_day


@pytest.fixture(autouse=True)
def _mail_sync(settings: Any) -> None:
    settings.BOOKING_MAIL_SYNC = True


def _no_store(response: Any) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def _book() -> Reservation:
    slot = SlotFactory.create(day=visit_day(), seats=4)
    hold = hold_create(slot_id=slot.pk, purpose_id=application().pk, persons=1, now=timezone.now())
    return reservation_confirm(
        hold_token=hold.token,
        persons=[PersonInput(name="上尾 花子", birth_date=date(1980, 4, 1))],
        email="hanako@example.jp",
        phone="09012345678",
        submission_key=uuid.uuid4(),
        now=timezone.now(),
    )


def test_the_manage_and_change_pages_are_not_stored(city_client: Client, in_city: Municipality) -> None:
    reservation = _book()
    token = manage_token(reservation)
    manage = city_client.get(f"/book/manage/{token}/")
    assert manage.status_code == 200
    assert reservation.code in manage.content.decode()
    assert _no_store(manage)
    change = city_client.get(f"/book/manage/{token}/change/")
    assert change.status_code == 200
    assert _no_store(change)


def test_the_form_and_the_done_page_are_not_stored(city_client: Client, in_city: Municipality) -> None:
    url = hold_url(city_client, SlotFactory.create(day=visit_day()))
    form = city_client.get(url)
    assert _no_store(form)
    data = {
        **person_data("p1", "上尾 花子", "western", "1980", "4", "1"),
        "email": "hanako@example.jp",
        "phone": "",  # missing: the form comes back with what was typed
        "submission_key": hidden(form.content.decode(), "submission_key"),
    }
    typed = city_client.post(url, data)
    assert typed.status_code == 400
    assert "上尾 花子" in typed.content.decode()
    assert _no_store(typed)
    data["phone"] = "090-1234-5678"
    booked = city_client.post(url, data)
    assert booked.status_code == 302
    done = city_client.get(booked["Location"])
    assert done.status_code == 200
    assert _no_store(done)


def test_the_find_and_email_start_pages_are_not_stored(city_client: Client, in_city: Municipality) -> None:
    assert _no_store(city_client.get("/book/find/"))
    typed = city_client.post(
        "/book/find/",
        {"code": "ABCD2345", "birth_date_0": "western", "birth_date_1": "1980", "birth_date_2": "4"},
    )
    assert typed.status_code == 400
    assert _no_store(typed)
    BookingSettings.objects.update(confirm_email_first=True)
    slot = SlotFactory.create(day=visit_day())
    token = email_link_token(slot_id=slot.pk, purpose_id=application().pk, persons=1, email="a@example.jp")
    start = city_client.get(f"/book/start/{token}/")
    assert start.status_code == 200
    assert "a@example.jp" in start.content.decode()
    assert _no_store(start)
