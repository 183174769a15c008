"""A pickup booking names a real card: notice number + date of birth against the card list, the card follows the
booking (booked, cancelled, no-show, moved), one answer for every refusal, limits, and the notice letter's short link.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import date, time, timedelta
from typing import Any

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking import hooks
from apps.booking.errors import BookingError, NoticeRefusedError
from apps.booking.models import CounterGroup, Person, Purpose, Reservation, Slot
from apps.booking.reservations.services import PersonInput, hold_create, reservation_confirm
from apps.booking.resident.services import manage_token, reservation_move
from apps.booking.staff.services import reservation_book_by_staff, reservation_mark
from apps.booking.tests.resident_helpers import hidden, hold_url, person_data
from apps.issuance.counter.booking_link import refusal_message
from apps.issuance.models import Card, CardEvent, CardState, EventKind
from apps.issuance.shortlinks.links import notice_path
from apps.security.actors import as_actor
from apps.security.models import Role, User
from tenants.db import use_public_schema
from tenants.models import Municipality
from tenants.services import MunicipalityInput, municipality_create
from tests.factories import SlotFactory, UserFactory, make_card, visit_day

NUMBER = "K7M-204815"
BIRTH = date(1980, 4, 1)
REFUSED = refusal_message()


@pytest.fixture(autouse=True)
def _mail_sync(settings: Any) -> None:
    settings.BOOKING_MAIL_SYNC = True


def _birth(prefix: str, birth: date) -> dict[str, str]:
    return person_data(prefix, f"上尾 {prefix}", "western", str(birth.year), str(birth.month), str(birth.day))


def _form(client: Client, slot: Slot, persons: int = 1) -> tuple[str, str]:
    url = hold_url(client, slot, persons=persons, purpose_code="pickup")
    return url, client.get(url).content.decode()


def _post(client: Client, url: str, html: str, pairs: list[tuple[str, date]]) -> Any:
    data = {
        "email": "hanako@example.jp",
        "phone": "090-1234-5678",
        "submission_key": hidden(html, "submission_key"),
    }
    for index, (number, birth) in enumerate(pairs, start=1):
        data.update(_birth(f"p{index}", birth))
        data[f"p{index}-notice_number"] = number
    return client.post(url, data)


def _events(card: Card) -> list[str]:
    return list(CardEvent.objects.filter(card=card).values_list("kind", flat=True))


def test_issuances_tests_run_with_its_check_and_receivers_plugged_into_booking(in_city: Municipality) -> None:
    # Booking's own tests empty the hooks (apps/booking/conftest.py); issuance's keep what it registers.
    assert hooks.check_notice(hooks.NoticeCheck("Z9Z999999", date(1970, 1, 1), "pickup")) == refusal_message()
    for signal in (hooks.reservation_booked, hooks.reservation_cancelled, hooks.reservation_no_show):
        assert signal.has_listeners()


@pytest.mark.parametrize("typed", ["K7M-204815", "k7m204815", "Ｋ７Ｍ－２０４８１５", "ｋ７ｍ２０４８１５"])
def test_a_pickup_with_the_cards_number_and_birth_date_books_the_card(
    city_client: Client, in_city: Municipality, typed: str
) -> None:
    card = make_card(notice_number=NUMBER, birth_date=BIRTH)
    url, html = _form(city_client, SlotFactory.create(day=visit_day()))
    response = _post(city_client, url, html, [(typed, BIRTH)])
    assert response.status_code == 302, response.content.decode()[:2000]
    reservation = Reservation.objects.get()
    card.refresh_from_db()
    assert card.state == CardState.BOOKED
    assert card.reservation == reservation
    event = CardEvent.objects.get(card=card, kind=EventKind.BOOKED)
    assert event.data == {"reservation_id": reservation.pk, "reservation_code": reservation.code}
    assert (event.from_state, event.to_state, event.by_label) == ("notice_mailed", "booked", "resident")


def test_every_refusal_reads_the_same_and_books_nothing(city_client: Client, in_city: Municipality) -> None:
    make_card(notice_number=NUMBER, birth_date=BIRTH)
    make_card(notice_number="EXP-000001", birth_date=BIRTH, express=True)
    make_card(notice_number="ISS-000001", birth_date=BIRTH, state=CardState.ISSUED)
    make_card(notice_number="SET-000001", birth_date=BIRTH, state=CardState.SET_UP)
    url, html = _form(city_client, SlotFactory.create(day=visit_day(), seats=4))
    attempts = {
        "wrong birth date": (NUMBER, date(1980, 4, 2)),
        "unknown number": ("ZZZ-999999", BIRTH),
        "express card": ("EXP-000001", BIRTH),
        "issued card": ("ISS-000001", BIRTH),
        "notice not yet mailed": ("SET-000001", BIRTH),
    }
    for why, pair in attempts.items():
        response = _post(city_client, url, html, [pair])
        page = response.content.decode()
        assert response.status_code == 400, why
        assert REFUSED in page, why
        assert not [word for word in ("特急", "交付済", "交付前設定") if word in page], why
    assert not Reservation.objects.exists()
    assert not CardEvent.objects.exists()
    assert set(Card.objects.values_list("state", flat=True)) == {"notice_mailed", "issued", "set_up"}


def test_a_card_linked_to_another_active_booking_is_refused_the_same_way(
    city_client: Client, in_city: Municipality
) -> None:
    make_card(notice_number=NUMBER, birth_date=BIRTH)
    url, html = _form(city_client, SlotFactory.create(day=visit_day()))
    assert _post(city_client, url, html, [(NUMBER, BIRTH)]).status_code == 302
    first = Reservation.objects.get()
    # The same card once more (another time, another browser): booked now, so refused with the one sentence.
    other_browser = Client(HTTP_HOST="ageo.localhost")
    url, html = _form(other_browser, SlotFactory.create(day=visit_day(6)))
    second = _post(other_browser, url, html, [(NUMBER, BIRTH)])
    assert second.status_code == 400
    assert REFUSED in second.content.decode()
    assert list(Reservation.objects.values_list("pk", flat=True)) == [first.pk]
    # Even in a state that allows booking, a link to a live booking keeps the card out of a second one.
    Card.objects.filter(notice_number=NUMBER).update(state=CardState.NOTICE_MAILED)
    url, html = _form(city_client, SlotFactory.create(day=visit_day(), at=time(11, 0)))
    refused = _post(city_client, url, html, [(NUMBER, BIRTH)])
    assert refused.status_code == 400
    assert REFUSED in refused.content.decode()


def test_one_card_named_twice_in_a_family_booking_is_refused(in_city: Municipality) -> None:
    card = make_card(notice_number=NUMBER, birth_date=BIRTH)
    slot = SlotFactory.create(day=visit_day(), seats=4)
    pickup = Purpose.objects.get(code="pickup")
    hold = hold_create(slot_id=slot.pk, purpose_id=pickup.pk, persons=2, now=timezone.now())
    # Each person passes the check alone; the booked receiver, holding the card's lock, refuses the second use.
    with pytest.raises(NoticeRefusedError, match="組み合わせを確認できませんでした"):
        reservation_confirm(
            hold_token=hold.token,
            persons=[
                PersonInput("上尾 花子", BIRTH, notice_number=NUMBER),
                PersonInput("上尾 花子", BIRTH, kana="べつ", notice_number="k7m204815"),
            ],
            email="",
            phone="",
            submission_key=uuid.uuid4(),
            now=timezone.now(),
        )
    assert not Reservation.objects.exists()
    card.refresh_from_db()
    assert (card.state, card.reservation_id) == (CardState.NOTICE_MAILED, None)


def test_a_family_with_one_wrong_pair_books_nobody_and_changes_no_card(
    city_client: Client, in_city: Municipality
) -> None:
    mother = make_card(notice_number=NUMBER, birth_date=BIRTH)
    child = make_card(notice_number="C2D-000002", birth_date=date(2015, 12, 24))
    url, html = _form(city_client, SlotFactory.create(day=visit_day(), seats=4), persons=2)
    response = _post(city_client, url, html, [(NUMBER, BIRTH), ("C2D-000002", date(2015, 12, 25))])
    assert response.status_code == 400
    assert REFUSED in response.content.decode()
    assert not Reservation.objects.exists()
    assert not Person.objects.exists()
    for card in (mother, child):
        card.refresh_from_db()
        assert (card.state, card.reservation_id, _events(card)) == (CardState.NOTICE_MAILED, None, [])
    both = _post(city_client, url, html, [(NUMBER, BIRTH), ("c2d000002", date(2015, 12, 24))])
    assert both.status_code == 302
    reservation = Reservation.objects.get()
    assert set(Card.objects.values_list("reservation", flat=True)) == {reservation.pk}
    assert set(Card.objects.values_list("state", flat=True)) == {CardState.BOOKED}


def test_each_city_checks_its_own_card_list(
    city: Municipality, other_city: Municipality, city_client: Client, other_city_client: Client
) -> None:
    okegawa_birth = date(1990, 1, 1)
    with schema_context(city.schema_name):
        ageo_card = make_card(notice_number=NUMBER, birth_date=BIRTH)
        ageo_url, ageo_html = _form(city_client, SlotFactory.create(day=visit_day()))
    with schema_context(other_city.schema_name):
        okegawa_card = make_card(notice_number=NUMBER, birth_date=okegawa_birth)
        okegawa_url, okegawa_html = _form(other_city_client, SlotFactory.create(day=visit_day()))
    # Okegawa's pair in Ageo, and Ageo's pair in Okegawa: the same number, the other city's card.
    in_ageo = _post(city_client, ageo_url, ageo_html, [(NUMBER, okegawa_birth)])
    in_okegawa = _post(other_city_client, okegawa_url, okegawa_html, [(NUMBER, BIRTH)])
    assert in_ageo.status_code == in_okegawa.status_code == 400
    assert REFUSED in in_ageo.content.decode()
    assert REFUSED in in_okegawa.content.decode()
    assert _post(city_client, ageo_url, ageo_html, [(NUMBER, BIRTH)]).status_code == 302
    with schema_context(city.schema_name):
        ageo_card.refresh_from_db()
        assert ageo_card.state == CardState.BOOKED
    with schema_context(other_city.schema_name):
        okegawa_card.refresh_from_db()
        assert (okegawa_card.state, _events(okegawa_card)) == (CardState.NOTICE_MAILED, [])
        assert not Reservation.objects.exists()


def test_a_city_without_a_card_list_takes_no_pickup_booking(
    city: Municipality, other_city: Municipality, other_city_client: Client
) -> None:
    with schema_context(city.schema_name):
        make_card(notice_number=NUMBER, birth_date=BIRTH)  # Ageo's list says nothing about Okegawa
    with schema_context(other_city.schema_name):
        url, html = _form(other_city_client, SlotFactory.create(day=visit_day()))
    refused = _post(other_city_client, url, html, [(NUMBER, BIRTH)])
    assert refused.status_code == 400
    assert refusal_message() in refused.content.decode()
    with schema_context(other_city.schema_name):
        assert not Reservation.objects.exists()


def _book_card(card: Card, slot: Slot) -> Reservation:
    hold = hold_create(
        slot_id=slot.pk, purpose_id=Purpose.objects.get(code="pickup").pk, persons=1, now=timezone.now()
    )
    return reservation_confirm(
        hold_token=hold.token,
        persons=[PersonInput("上尾 花子", card.birth_date, notice_number=card.notice_number)],
        email="hanako@example.jp",
        phone="",
        submission_key=uuid.uuid4(),
        now=timezone.now(),
    )


def test_the_resident_cancels_and_the_card_waits_for_a_booking_again(
    city_client: Client, in_city: Municipality
) -> None:
    card = make_card(notice_number=NUMBER, birth_date=BIRTH)
    reservation = _book_card(card, SlotFactory.create(day=visit_day()))
    token = manage_token(reservation)
    response = city_client.post(f"/book/manage/{token}/", {"action": "cancel"})
    assert response.status_code == 302
    card.refresh_from_db()
    assert (card.state, card.reservation_id) == (CardState.NOTICE_MAILED, None)
    event = CardEvent.objects.get(card=card, kind=EventKind.BOOKING_CANCELLED)
    assert (event.to_state, event.by_label, event.data["reservation_code"]) == (
        "notice_mailed",
        "resident",
        reservation.code,
    )
    again = _book_card(card, SlotFactory.create(day=visit_day(), at=time(11, 0)))  # bookable again
    card.refresh_from_db()
    assert card.reservation == again


def test_moving_the_booking_keeps_the_card_booked(in_city: Municipality) -> None:
    card = make_card(notice_number=NUMBER, birth_date=BIRTH)
    reservation = _book_card(card, SlotFactory.create(day=visit_day()))
    later = SlotFactory.create(day=visit_day(6))
    reservation_move(reservation_id=reservation.pk, new_slot_id=later.pk, now=timezone.now())
    card.refresh_from_db()
    assert (card.state, card.reservation_id) == (CardState.BOOKED, reservation.pk)
    assert _events(card) == [EventKind.BOOKED]


def _staff() -> User:
    user: User = UserFactory(username="wiring-counter", role=Role.STAFF)
    return user


def _past_slot() -> Slot:
    return SlotFactory.create(day=timezone.localdate() - timedelta(days=1), at=time(9, 0))


def _phone_booking(staff: User, slot: Slot, number: str, birth: date) -> Reservation:
    return reservation_book_by_staff(
        slot_id=slot.pk,
        purpose_id=Purpose.objects.get(code="pickup").pk,
        persons=[PersonInput("上尾 花子", birth, notice_number=number)],
        phone="048-000-0000",
        email="",
        channel=Reservation.Channel.PHONE,
        actor=as_actor(staff),
        now=timezone.now(),
    )


def test_staff_phone_bookings_name_a_real_card_and_staff_no_show_returns_it(in_city: Municipality) -> None:
    staff = _staff()
    card = make_card(notice_number=NUMBER, birth_date=BIRTH)
    slot = _past_slot()
    with pytest.raises(BookingError) as refused:
        _phone_booking(staff, slot, "ZZZ-999999", BIRTH)
    assert str(refused.value) == REFUSED
    reservation = _phone_booking(staff, slot, "k7m 204815", BIRTH)  # staff's form keeps what was typed
    card.refresh_from_db()
    assert (card.state, card.reservation_id) == (CardState.BOOKED, reservation.pk)
    booked = CardEvent.objects.get(card=card, kind=EventKind.BOOKED)
    assert booked.by == staff

    reservation_mark(
        reservation_id=reservation.pk,
        status=Reservation.Status.NO_SHOW,
        actor=as_actor(staff),
        now=timezone.now(),
    )
    card.refresh_from_db()
    assert (card.state, card.reservation_id) == (CardState.NOTICE_MAILED, None)
    no_show = CardEvent.objects.get(card=card, kind=EventKind.NO_SHOW)
    assert (no_show.by, no_show.from_state, no_show.data["reservation_id"]) == (
        staff,
        "booked",
        reservation.pk,
    )


def test_a_staff_cancellation_after_the_card_was_issued_leaves_the_card_alone(in_city: Municipality) -> None:
    staff = _staff()
    card = make_card(notice_number=NUMBER, birth_date=BIRTH)
    reservation = _phone_booking(staff, SlotFactory.create(day=visit_day()), NUMBER, BIRTH)
    reservation_mark(
        reservation_id=reservation.pk,
        status=Reservation.Status.ARRIVED,
        actor=as_actor(staff),
        now=timezone.now(),
    )
    Card.objects.filter(pk=card.pk).update(state=CardState.ISSUED)  # the counter handed it over
    reservation_mark(
        reservation_id=reservation.pk,
        status=Reservation.Status.CANCELLED,
        actor=as_actor(staff),
        now=timezone.now(),
    )
    card.refresh_from_db()
    assert card.state == CardState.ISSUED
    assert EventKind.BOOKING_CANCELLED not in _events(card)


def test_staff_cancellation_records_the_staff_member(in_city: Municipality) -> None:
    staff = _staff()
    card = make_card(notice_number=NUMBER, birth_date=BIRTH)
    reservation = _phone_booking(staff, SlotFactory.create(day=visit_day()), NUMBER, BIRTH)
    reservation_mark(
        reservation_id=reservation.pk,
        status=Reservation.Status.CANCELLED,
        actor=as_actor(staff),
        now=timezone.now(),
    )
    event = CardEvent.objects.get(card=card, kind=EventKind.BOOKING_CANCELLED)
    assert event.by == staff


def test_failed_pairs_from_one_address_meet_a_429(
    city_client: Client, in_city: Municipality, settings: Any
) -> None:
    settings.BOOKING_RATE_LIMITS = {"notice_fail_ip": (2, 600)}
    make_card(notice_number=NUMBER, birth_date=BIRTH)
    url, html = _form(city_client, SlotFactory.create(day=visit_day()))
    assert _post(city_client, url, html, [("ZZZ-999991", BIRTH)]).status_code == 400
    assert _post(city_client, url, html, [(NUMBER, date(1999, 1, 1))]).status_code == 400
    refused = _post(city_client, url, html, [(NUMBER, BIRTH)])  # even the right pair is not checked now
    assert refused.status_code == 429
    assert "しばらくしてから" in refused.content.decode()
    assert not Reservation.objects.exists()
    other_address = Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR="127.0.0.2")
    url, html = _form(other_address, SlotFactory.create(day=visit_day(), at=time(11, 0)))
    assert _post(other_address, url, html, [(NUMBER, BIRTH)]).status_code == 302


def test_the_short_link_opens_the_pickup_booking_with_the_number_filled_in(
    city_client: Client, in_city: Municipality
) -> None:
    card = make_card(notice_number=NUMBER, birth_date=BIRTH)
    slot = SlotFactory.create(day=visit_day())
    assert notice_path(NUMBER) == "/n/K7M204815"
    landing = city_client.get(notice_path(NUMBER), follow=True)
    assert landing.status_code == 200
    assert landing.redirect_chain[-1][0] == "/book/pickup/"
    url, html = _form(city_client, slot)
    assert f'name="p1-notice_number" value="{NUMBER}"' in html
    # The resident only adds the rest: the number arrives as the form shows it.
    data = {
        **_birth("p1", BIRTH),
        "p1-notice_number": NUMBER,
        "email": "hanako@example.jp",
        "phone": "090-1234-5678",
        "submission_key": hidden(html, "submission_key"),
    }
    assert city_client.post(url, data).status_code == 302
    card.refresh_from_db()
    assert card.state == CardState.BOOKED
    # The number is used once: the next booking in this browser starts empty.
    _url, html = _form(city_client, SlotFactory.create(day=visit_day(), at=time(11, 0)))
    assert NUMBER not in html


@pytest.mark.parametrize("typed", ["k7m204815", "Ｋ７Ｍ２０４８１５", "K7M-204815"])
def test_the_short_link_takes_the_number_as_people_type_it(
    city_client: Client, in_city: Municipality, typed: str
) -> None:
    city_client.get(f"/n/{typed}")
    _url, html = _form(city_client, SlotFactory.create(day=visit_day()), persons=2)
    assert html.count(f'value="{NUMBER}"') == 1  # the first person only: each family member has their own


@pytest.mark.parametrize("typed", ["xyz", "A1B12345", "123456789012", "%3Cscript%3E"])
def test_a_malformed_short_link_lands_on_the_booking_top_page(
    city_client: Client, in_city: Municipality, typed: str
) -> None:
    response = city_client.get(f"/n/{typed}", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [("/book/", 302)]
    page = response.content.decode()
    assert "用件を選んでください" in page
    assert "<script>" not in page
    assert "A1B12345" not in page


def test_an_unknown_number_in_the_short_link_answers_like_a_known_one(
    city_client: Client, in_city: Municipality
) -> None:
    make_card(notice_number=NUMBER, birth_date=BIRTH)
    known = city_client.get(notice_path(NUMBER))
    unknown = Client(HTTP_HOST="ageo.localhost").get("/n/ZZZ999999")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])


# --- Two residents racing with one card (committed data, separate connections) -----------------------------------

RACERS = 6


@pytest.fixture(scope="module")
def race_city(django_db_setup: None, django_db_blocker: Any) -> Iterator[tuple[list[int], int]]:
    with django_db_blocker.unblock():
        city = municipality_create(
            data=MunicipalityInput(
                slug="cardrace", lg_code="119997", name_ja="競争市", name_en="Cardrace", prefecture="埼玉県"
            ),
            domains=["cardrace.localhost"],
        )
        with schema_context("cardrace"):
            group = CounterGroup.objects.get()
            day = visit_day()
            slots = [
                SlotFactory.create(
                    counter_group=group, day=day, at=time(9 + i // 2, 30 * (i % 2)), seats=2
                ).pk
                for i in range(RACERS)
            ]
            card = make_card(notice_number=NUMBER, birth_date=BIRTH)
        yield slots, card.pk
        use_public_schema()
        city.delete(force_drop=True)


@pytest.mark.slow
def test_residents_racing_with_one_card_book_it_once(
    race_city: tuple[list[int], int], django_db_blocker: Any
) -> None:
    slots, card_id = race_city
    outcomes: list[str] = []
    barrier = threading.Barrier(RACERS)

    def attempt(slot_id: int, index: int) -> None:
        try:
            with schema_context("cardrace"):
                pickup = Purpose.objects.get(code="pickup")
                hold = hold_create(slot_id=slot_id, purpose_id=pickup.pk, persons=1, now=timezone.now())
                barrier.wait()
                try:
                    reservation_confirm(
                        hold_token=hold.token,
                        persons=[
                            PersonInput(
                                f"住民{index}", BIRTH, kana=f"じゅうみん{index}", notice_number=NUMBER
                            )
                        ],
                        email="",
                        phone="",
                        submission_key=uuid.uuid4(),
                        now=timezone.now(),
                    )
                    outcomes.append("booked")
                except NoticeRefusedError as refusal:
                    outcomes.append("refused" if str(refusal) == REFUSED else f"other: {refusal}")
        except Exception as exc:  # anything else is what the test must show
            outcomes.append(f"error: {exc!r}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(slot_id, i)) for i, slot_id in enumerate(slots)]
    with django_db_blocker.unblock():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert sorted(outcomes) == ["booked"] + ["refused"] * (RACERS - 1), outcomes
        with schema_context("cardrace"):
            winner = Reservation.objects.get(status=Reservation.Status.BOOKED)
            card = Card.objects.get(pk=card_id)
            assert (card.state, card.reservation_id) == (CardState.BOOKED, winner.pk)
            assert CardEvent.objects.filter(card=card, kind=EventKind.BOOKED).count() == 1
            assert Person.objects.filter(notice_number=NUMBER).count() == 1
