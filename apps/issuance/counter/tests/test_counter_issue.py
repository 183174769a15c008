"""One transaction issues the card and completes the booking: a failure in the booking part leaves the card as it
was; a second submission issues nothing twice; a family's booking is done after its last card."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.errors import BookingError
from apps.booking.models import Reservation
from apps.booking.staff import services as services_staff
from apps.issuance.cards.services import CardError
from apps.issuance.counter.services import (
    AlreadyIssuedError,
    AlreadyRecordedError,
    CheckInput,
    ChecklistError,
    counter_check_record,
)
from apps.issuance.counter.tests.test_counter import a_card, adult, book, checklist_url
from apps.issuance.counter.tests.test_counter_checklist import doc, issue_data
from apps.issuance.models import Card, CardEvent, CardState, CounterCheck
from apps.security.actors import as_actor
from apps.security.audit_models import AuditEvent
from apps.security.models import Role
from tenants.models import Municipality
from tests.factories import UserFactory, role_client


def one_a() -> CheckInput:
    return CheckInput(outcome="issued", documents=(doc("運転免許証"),), receipt_signed=True)


@pytest.fixture
def staff(city: Municipality) -> Client:
    return role_client(city, Role.STAFF, "counter-staff")


@pytest.fixture
def counter_user(in_city: Municipality) -> Any:
    return UserFactory(username="counter-service", role=Role.STAFF)


def untouched(card: Card, reservation: Reservation) -> None:
    card.refresh_from_db()
    reservation.refresh_from_db()
    assert card.state == CardState.BOOKED
    assert not CounterCheck.objects.filter(card=card).exists()
    assert not CardEvent.objects.filter(card=card, kind__in=["issued", "not_issued"]).exists()
    assert not AuditEvent.objects.filter(action="card.issue").exists()
    assert reservation.status == Reservation.Status.BOOKED


def test_a_failure_in_the_booking_part_leaves_the_card_untouched(
    counter_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = adult()
    reservation = book([card])
    calls: list[str] = []
    real = services_staff.reservation_mark

    def mark_then_fail(**kwargs: Any) -> Reservation:
        calls.append(kwargs["status"])
        if kwargs["status"] == Reservation.Status.DONE:
            raise BookingError("予約の更新に失敗しました（テスト）")
        return real(**kwargs)

    monkeypatch.setattr(services_staff, "reservation_mark", mark_then_fail)
    with pytest.raises(CardError, match="予約の更新に失敗しました（テスト）"):
        counter_check_record(card_id=card.pk, check=one_a(), actor=as_actor(counter_user), now=timezone.now())
    assert calls == ["arrived", "done"]  # the arrival was written, then undone with everything else
    untouched(card, reservation)


def test_an_unexpected_error_in_the_booking_part_rolls_everything_back(
    counter_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = adult()
    reservation = book([card])

    def broken(**kwargs: Any) -> Reservation:
        raise RuntimeError("database went away")

    monkeypatch.setattr(services_staff, "reservation_mark", broken)
    with pytest.raises(RuntimeError):
        counter_check_record(card_id=card.pk, check=one_a(), actor=as_actor(counter_user), now=timezone.now())
    untouched(card, reservation)


def test_the_booking_failure_is_shown_on_the_checklist_and_the_card_stays_booked(
    city: Municipality, staff: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    with schema_context(city.schema_name):
        card = adult()
        reservation = book([card])
        data = issue_data()

    def fail(**kwargs: Any) -> Reservation:
        raise BookingError("「取消」の予約を「来庁」にはできません。")

    monkeypatch.setattr(services_staff, "reservation_mark", fail)
    response = staff.post(checklist_url(card), data)
    assert response.status_code == 409
    html = response.content.decode()
    assert f"予約 {reservation.code} を更新できなかったため、交付を記録しませんでした" in html
    assert 'value="on"' in html or "checked" in html  # the input is kept
    with schema_context(city.schema_name):
        untouched(card, reservation)


def test_a_double_submission_issues_once_and_says_already_issued(city: Municipality, staff: Client) -> None:
    with schema_context(city.schema_name):
        card = adult()
        book([card])
        data = issue_data()
    assert staff.post(checklist_url(card), data).status_code == 302
    again = staff.post(checklist_url(card), data)
    assert again.status_code == 409
    html = again.content.decode()
    assert f"カード {card.notice_number} はすでに交付済です（" in html
    assert "担当 counter-staff" in html
    with schema_context(city.schema_name):
        assert CounterCheck.objects.filter(card=card).count() == 1
        assert CardEvent.objects.filter(card=card, kind="issued").count() == 1
    assert staff.get(checklist_url(card)).status_code == 409  # and the form is not offered again


def test_the_service_refuses_an_issued_card(counter_user: Any) -> None:
    card = adult()
    book([card])
    counter_check_record(card_id=card.pk, check=one_a(), actor=as_actor(counter_user), now=timezone.now())
    with pytest.raises(AlreadyIssuedError):
        counter_check_record(card_id=card.pk, check=one_a(), actor=as_actor(counter_user), now=timezone.now())
    assert CounterCheck.objects.filter(card=card).count() == 1


def test_a_double_submitted_not_issued_is_recorded_once(city: Municipality, staff: Client) -> None:
    with schema_context(city.schema_name):
        card = adult()
        book([card])
    data = {"identity_kind": "one_a", "outcome": "not_issued", "not_issued_reason": "書類不足", "seen": "0"}
    assert staff.post(checklist_url(card), data).status_code == 302
    again = staff.post(checklist_url(card), data)
    assert again.status_code == 409
    assert "この画面を開いた後に記録されています" in again.content.decode()
    with schema_context(city.schema_name):
        assert CounterCheck.objects.filter(card=card).count() == 1
    assert 'name="seen" value="1"' in again.content.decode()  # a deliberate second record is possible


def test_the_service_refuses_a_stale_form(counter_user: Any) -> None:
    card = adult()
    check = CheckInput(outcome="not_issued", not_issued_reason="書類不足", seen_checks=0)
    counter_check_record(card_id=card.pk, check=check, actor=as_actor(counter_user), now=timezone.now())
    with pytest.raises(AlreadyRecordedError):
        counter_check_record(card_id=card.pk, check=check, actor=as_actor(counter_user), now=timezone.now())


def test_the_service_applies_the_rules_itself(counter_user: Any) -> None:
    card = adult()
    with pytest.raises(ChecklistError) as refused:
        counter_check_record(
            card_id=card.pk,
            check=CheckInput(outcome="issued", identity_kind="two_b", documents=(doc("資格確認書"),) * 2),
            actor=as_actor(counter_user),
            now=timezone.now(),
        )
    assert set(refused.value.errors) == {"documents_b", "receipt_signed"}
    assert CounterCheck.objects.count() == 0


def test_the_service_needs_the_issue_permission(in_city: Municipality) -> None:
    card = adult()
    auditor = UserFactory(username="counter-auditor-service", role=Role.AUDITOR)
    with pytest.raises(PermissionDenied):
        counter_check_record(card_id=card.pk, check=one_a(), actor=as_actor(auditor), now=timezone.now())
    card.refresh_from_db()
    assert card.state == CardState.NOTICE_MAILED


def test_a_family_booking_is_arrived_after_the_first_card_and_done_after_the_last(
    city: Municipality, staff: Client
) -> None:
    with schema_context(city.schema_name):
        parent, teen = adult(name="家族 親"), adult(name="家族 子")
        reservation = book([parent, teen])
        data = issue_data()
    first = staff.post(checklist_url(parent), data)
    assert first.status_code == 302
    # The booking's remaining cards are shown as a kept search: its code is not in the address.
    assert first["Location"].startswith("/staff/counter/?s=")
    assert first["Location"].endswith("&list=1")
    assert reservation.code not in first["Location"]
    page = staff.get(first["Location"]).content.decode()
    assert f"予約 {reservation.code} には、確認がまだのカードがあと1枚あります。" in page
    assert f'href="{checklist_url(teen)}"' in page
    with schema_context(city.schema_name):
        reservation.refresh_from_db()
        assert reservation.status == Reservation.Status.ARRIVED
    second = staff.post(checklist_url(teen), data)
    assert second["Location"] == "/staff/counter/"
    with schema_context(city.schema_name):
        reservation.refresh_from_db()
        assert reservation.status == Reservation.Status.DONE
        assert set(Card.objects.filter(reservation=reservation).values_list("state", flat=True)) == {"issued"}


def test_a_booking_found_by_its_persons_is_completed_too(city: Municipality, staff: Client) -> None:
    with schema_context(city.schema_name):
        card = adult()
        reservation = book([card], link=False)
        data = issue_data()
    url = f"{checklist_url(card)}?reservation={reservation.pk}"
    assert staff.post(url, {**data, "reservation": reservation.pk}).status_code == 302
    with schema_context(city.schema_name):
        reservation.refresh_from_db()
        assert reservation.status == Reservation.Status.DONE
        assert CounterCheck.objects.get(card=card).reservation_id == reservation.pk


def test_another_booking_cannot_be_completed_through_a_card_it_does_not_hold(counter_user: Any) -> None:
    card, stranger = adult(), adult()
    reservation = book([stranger], link=False)
    with pytest.raises(CardError, match="この予約のカードではありません"):
        counter_check_record(
            card_id=card.pk,
            check=CheckInput(
                outcome="issued",
                documents=(doc("運転免許証"),),
                receipt_signed=True,
                reservation_id=reservation.pk,
            ),
            actor=as_actor(counter_user),
            now=timezone.now(),
        )
    card.refresh_from_db()
    reservation.refresh_from_db()
    assert card.state == CardState.NOTICE_MAILED
    assert reservation.status == Reservation.Status.BOOKED


def test_a_cancelled_booking_stays_cancelled_and_the_card_is_still_handed_over(counter_user: Any) -> None:
    card = adult()
    reservation = book([card])
    Reservation.objects.filter(pk=reservation.pk).update(status=Reservation.Status.CANCELLED)
    result = counter_check_record(
        card_id=card.pk, check=one_a(), actor=as_actor(counter_user), now=timezone.now()
    )
    assert result.event.to_state == CardState.ISSUED
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.CANCELLED


def test_the_other_city_cannot_issue_this_citys_card_through_the_service(
    city: Municipality, other_city: Municipality
) -> None:
    with schema_context(city.schema_name):
        card = a_card()
    with schema_context(other_city.schema_name):
        okegawa_staff = UserFactory(username="okegawa-issuer", role=Role.STAFF)
        with pytest.raises(CardError, match="カードが見つかりません"):
            counter_check_record(
                card_id=card.pk,
                check=CheckInput(outcome="not_issued", not_issued_reason="x"),
                actor=as_actor(okegawa_staff),
                now=timezone.now(),
            )
    with schema_context(city.schema_name):
        card.refresh_from_db()
        assert card.state == CardState.NOTICE_MAILED
        assert not CounterCheck.objects.exists()


def test_a_booked_card_not_issued_waits_for_a_new_booking(counter_user: Any) -> None:
    card = adult()
    reservation = book([card])
    check = CheckInput(outcome="not_issued", not_issued_reason="本人確認書類がなかった", seen_checks=0)
    counter_check_record(card_id=card.pk, check=check, actor=as_actor(counter_user), now=timezone.now())
    card.refresh_from_db()
    reservation.refresh_from_db()
    assert card.state == CardState.NOTICE_MAILED  # bookable again, online too
    assert card.reservation_id is None
    assert reservation.status == Reservation.Status.DONE  # the visit itself is over
    event = CardEvent.objects.get(card=card, kind="not_issued")
    assert (event.from_state, event.to_state, event.reason) == (
        "booked",
        "notice_mailed",
        "本人確認書類がなかった",
    )
