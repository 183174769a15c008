"""The counter's search: one box for a booking code, a notice number or kana + date of birth; who may use it; the
audit of what was searched; and another city finding nothing. Helpers here are shared by test_counter_*.py."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import Purpose, Reservation, Slot
from apps.booking.reservations.services import PersonInput
from apps.booking.staff.services import reservation_book_by_staff
from apps.issuance.models import Card, CardState
from apps.security.actors import as_actor
from apps.security.audit_models import AuditEvent
from apps.security.models import Role
from tenants.models import Municipality
from tests.factories import CardFactory, SlotFactory, UserFactory, role_client

SEARCH_URL = "/staff/counter/"
INDIVIDUAL_NUMBER = "123456789018"  # a valid check digit (apps/security/mynumber.py)
TODAY = timezone.localdate()


def checklist_url(card: Card) -> str:
    return f"/staff/counter/card/{card.pk}/"


_slot_minutes = itertools.count(0, 30)


def make_slot(day: date = TODAY, seats: int = 6) -> Slot:
    """A frame of the counter on `day` (each call a new one, so persons never collide)."""
    start = datetime.combine(day, time(8, 0), TOKYO) + timedelta(minutes=next(_slot_minutes) % (60 * 12))
    return SlotFactory.create(start=start, seats=seats)


def book(cards: list[Card], *, link: bool = True, slot: Slot | None = None) -> Reservation:
    """A booking for `cards`' holders made through booking's own service; then the cards are linked and booked
    directly (the booking → card wiring is another part's work and not what these tests are about)."""
    staff = UserFactory(username="counter-booking-helper", role=Role.STAFF)
    reservation = reservation_book_by_staff(
        slot_id=(slot or make_slot()).pk,
        purpose_id=Purpose.objects.get(code="application").pk,
        persons=[
            PersonInput(name=c.name, kana=c.kana, birth_date=c.birth_date, notice_number=c.notice_number)
            for c in cards
        ],
        phone="048-000-0000",
        email="counter@example.jp",
        channel=Reservation.Channel.PHONE,
        now=timezone.now(),
        actor=as_actor(staff),
    )
    ids = [c.pk for c in cards]
    if link:
        Card.objects.filter(pk__in=ids).update(reservation=reservation, state=CardState.BOOKED)
    else:
        Card.objects.filter(pk__in=ids).update(reservation=None)
    for card in cards:
        card.refresh_from_db()
    return reservation


def a_card(**kwargs: Any) -> Card:
    return CardFactory.create(**kwargs)


def adult(**kwargs: Any) -> Card:
    kwargs.setdefault("birth_date", date(1980, 4, 2))
    return a_card(**kwargs)


@pytest.fixture
def staff(city: Municipality) -> Client:
    return role_client(city, Role.STAFF, "counter-staff")


@pytest.fixture
def supervisor(city: Municipality) -> Client:
    return role_client(city, Role.SUPERVISOR, "counter-supervisor")


def search(client: Client, q: str, **extra: str) -> Any:
    """Search as the page does: POST, then follow the 303 to the opaque id (`list` rides on the address)."""
    url = SEARCH_URL + ("?list=1" if extra.pop("list", None) else "")
    response = client.post(url, {"q": q, **extra})
    if response.status_code == 303:
        assert response["Location"].startswith(f"{SEARCH_URL}?s=")
        assert q not in response["Location"]
        response = client.get(response["Location"])
    return response


def wareki(era: str, year: int, month: int, day: int) -> dict[str, str]:
    return {
        "birth_date_0": era,
        "birth_date_1": str(year),
        "birth_date_2": str(month),
        "birth_date_3": str(day),
    }


# Finding the card


def test_the_search_page_opens_with_the_box_focused(staff: Client) -> None:
    page = staff.get(SEARCH_URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "予約番号・交付通知書の番号・ふりがな" in html
    assert "autofocus" in html
    assert "令和" in html  # the date of birth takes 和暦


def test_a_booking_code_with_one_card_opens_its_checklist_and_the_search_is_audited(
    city: Municipality, staff: Client
) -> None:
    with schema_context(city.schema_name):
        card = adult()
        reservation = book([card])
    response = search(staff, reservation.code.lower())
    assert response.status_code == 302
    assert response["Location"] == checklist_url(card)
    with schema_context(city.schema_name):
        event = AuditEvent.objects.filter(
            action="personal_data.viewed", target="issuance:counter_search"
        ).get()
        assert event.after["kind"] == "booking"
        assert event.after["query"] == reservation.code.lower()
        assert event.after["found"] == [card.notice_number]
        assert event.actor_username == "counter-staff"


def test_a_family_booking_lists_each_card_with_its_checklist(city: Municipality, staff: Client) -> None:
    with schema_context(city.schema_name):
        mother, child = adult(name="上尾 花子"), a_card(name="上尾 次郎", birth_date=date(2016, 6, 1))
        other = adult(name="関係 ない")
        reservation = book([mother, child])
    page = search(staff, reservation.code)
    assert page.status_code == 200
    html = page.content.decode()
    assert reservation.code in html
    assert "上尾 花子" in html
    assert "上尾 次郎" in html
    assert "関係 ない" not in html
    assert f'href="{checklist_url(mother)}"' in html
    assert f'href="{checklist_url(child)}"' in html
    assert other.notice_number not in html


def test_a_booking_whose_cards_are_not_linked_finds_them_by_its_persons_notice_numbers(
    city: Municipality, staff: Client
) -> None:
    with schema_context(city.schema_name):
        card = adult()
        reservation = book([card], link=False)
    response = search(staff, reservation.code)
    assert response.status_code == 302
    assert response["Location"] == f"{checklist_url(card)}?reservation={reservation.pk}"
    page = staff.get(response["Location"])
    assert page.status_code == 200
    assert reservation.code in page.content.decode()  # the booking is shown: the visit completes it


def test_an_unknown_booking_code_says_so(city: Municipality, staff: Client) -> None:
    page = search(staff, "ZZZZ2222")
    assert page.status_code == 200
    assert "この予約番号の予約は見つかりませんでした。" in page.content.decode()


def test_a_notice_number_in_full_width_without_the_hyphen_is_found(city: Municipality, staff: Client) -> None:
    with schema_context(city.schema_name):
        card = adult(notice_number="A1B-123456")
    response = search(staff, "ａ１Ｂ１２３４５６")
    assert response.status_code == 302
    assert response["Location"] == checklist_url(card)


def test_kana_in_hiragana_with_another_dash_and_a_wareki_birth_date_finds_the_katakana_card(
    city: Municipality, staff: Client
) -> None:
    with schema_context(city.schema_name):
        card = a_card(name="佐藤 花子", kana="サトー ハナコ", birth_date=date(1990, 2, 3))
        a_card(name="佐藤 花子", kana="サトー ハナコ", birth_date=date(1990, 2, 4))  # another day
    response = search(staff, "さと－　はなこ", **wareki("heisei", 2, 2, 3))
    assert response.status_code == 302
    assert response["Location"] == checklist_url(card)


def test_kana_with_two_matches_lists_both(city: Municipality, staff: Client) -> None:
    with schema_context(city.schema_name):
        twins = [a_card(kana="フタゴ ミライ", birth_date=date(2001, 7, 7)) for _ in range(2)]
    page = search(staff, "ふたご みらい", **wareki("western", 2001, 7, 7))
    assert page.status_code == 200
    html = page.content.decode()
    assert all(card.notice_number in html for card in twins)
    assert "2001年7月7日（平成13年7月7日）" in html


def test_kana_without_a_birth_date_is_refused_with_what_to_add(city: Municipality, staff: Client) -> None:
    page = search(staff, "さとう はなこ")
    assert page.status_code == 400
    html = page.content.decode()
    assert "ふりがなで探すときは生年月日も入力してください。" in html
    assert 'value="さとう はなこ"' in html  # the input is kept


def test_an_individual_number_is_refused_in_the_search_and_never_recorded(
    city: Municipality, staff: Client
) -> None:
    page = search(staff, "１２３４ ５６７８ ９０１８")
    assert page.status_code == 400
    assert "個人番号（マイナンバー）は入力しないでください。" in page.content.decode()
    with schema_context(city.schema_name):
        assert not AuditEvent.objects.filter(action="personal_data.viewed").exists()
        assert not AuditEvent.objects.filter(summary__contains=INDIVIDUAL_NUMBER).exists()


# Who may search


def test_a_supervisor_may_search_too(city: Municipality, supervisor: Client) -> None:
    with schema_context(city.schema_name):
        card = adult()
    assert search(supervisor, card.notice_number).status_code == 302


def test_an_auditor_may_not_search_or_open_a_checklist(city: Municipality) -> None:
    with schema_context(city.schema_name):
        card = adult()
    auditor = role_client(city, Role.AUDITOR, "counter-auditor")
    assert auditor.get(SEARCH_URL).status_code == 403
    assert search(auditor, card.notice_number).status_code == 403
    assert auditor.get(checklist_url(card)).status_code == 403
    assert auditor.post(checklist_url(card), {"outcome": "issued"}).status_code == 403


def test_anonymous_visitors_go_to_the_login(city_client: Client, city: Municipality) -> None:
    with schema_context(city.schema_name):
        card = adult()
    for response in (city_client.get(SEARCH_URL), city_client.get(checklist_url(card))):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_another_city_finds_none_of_this_citys_cards(city: Municipality, other_city: Municipality) -> None:
    with schema_context(city.schema_name):
        card = a_card(notice_number="Z9Z-999999", kana="ベツノ マチ", birth_date=date(1970, 1, 1))
        reservation = book([card])
    okegawa = role_client(other_city, Role.STAFF, "okegawa-counter")
    for response in (
        search(okegawa, reservation.code),
        search(okegawa, card.notice_number),
        search(okegawa, "べつの まち", **wareki("western", 1970, 1, 1)),
    ):
        assert response.status_code == 200
        assert card.name not in response.content.decode()
    with schema_context(other_city.schema_name):
        assert not Card.objects.filter(pk=card.pk).exists()
    assert okegawa.get(checklist_url(card)).status_code == 404
    assert okegawa.post(checklist_url(card), {"outcome": "issued"}).status_code == 404
    with schema_context(city.schema_name):
        card.refresh_from_db()
        assert card.state == CardState.BOOKED
