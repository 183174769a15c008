"""The checklist's rules as the counter staff meet them: one A document or two different B documents, a proxy
with a reason and documents, a guardian for under-15s, the receipt signed, a reason when not issuing, 個人番号
refused; the common case in one submission; and cards that cannot be handed over refused before the form."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.booking.models import Reservation
from apps.issuance.counter.services import age_on
from apps.issuance.counter.tests.test_counter import TODAY, a_card, adult, book, checklist_url
from apps.issuance.models import Card, CardEvent, CardState, CounterCheck, IdentityDocument, ProxyReason
from apps.security.audit_models import AuditEvent
from apps.security.models import Role
from tenants.models import Municipality
from tests.factories import role_client


def doc(name: str) -> int:
    return IdentityDocument.objects.get(name_ja=name).pk


def issue_data(**changes: Any) -> dict[str, Any]:
    """The common case: one A document, receipt signed, 交付済にする."""
    data: dict[str, Any] = {
        "identity_kind": "one_a",
        "document_a": doc("運転免許証"),
        "receipt_signed": "on",
        "outcome": "issued",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def staff(city: Municipality) -> Client:
    return role_client(city, Role.STAFF, "counter-staff")


@pytest.fixture
def supervisor(city: Municipality) -> Client:
    return role_client(city, Role.SUPERVISOR, "counter-supervisor")


@pytest.fixture
def booked(city: Municipality) -> tuple[Card, Reservation]:
    with schema_context(city.schema_name):
        card = adult(name="窓口 花子", kana="マドグチ ハナコ")
        reservation = book([card])
    return card, reservation


def post(client: Client, card: Card, data: dict[str, Any]) -> Any:
    return client.post(checklist_url(card), data)


def state_of(city: Municipality, card: Card) -> str:
    with schema_context(city.schema_name):
        return Card.objects.get(pk=card.pk).state


def test_the_checklist_starts_on_one_a_document_with_focus_on_its_first_field(
    booked: tuple[Card, Reservation], staff: Client, city: Municipality
) -> None:
    card, reservation = booked
    page = staff.get(checklist_url(card))
    assert page.status_code == 200
    html = page.content.decode()
    assert "窓口 花子" in html
    assert reservation.code in html
    assert "運転免許証" in html
    assert "交付済にする" in html
    assert "受領書に署名をもらった" in html
    first_radio = html.index('name="identity_kind"')
    tag = html[html.rindex("<input", 0, first_radio) : html.index(">", first_radio)]
    assert 'value="one_a"' in tag
    assert "checked" in tag
    assert "autofocus" in tag
    assert html.count("autofocus") == 1
    assert "法定代理人が同行" not in html  # an adult: no guardian field
    with schema_context(city.schema_name):
        assert AuditEvent.objects.filter(action="personal_data.viewed", target=f"Card:{card.pk}").exists()


def test_the_common_case_issues_the_card_and_completes_the_booking_in_one_submission(
    booked: tuple[Card, Reservation], staff: Client, city: Municipality
) -> None:
    card, reservation = booked
    with schema_context(city.schema_name):
        data = issue_data(old_cards=["notification_card"])
    response = post(staff, card, data)
    assert response.status_code == 302
    assert response["Location"] == "/staff/counter/"
    page = staff.get(response["Location"]).content.decode()
    assert f"カード {card.notice_number}（窓口 花子 さん）を交付済にしました。" in page
    assert f"予約 {reservation.code} を完了にしました。" in page
    with schema_context(city.schema_name):
        card.refresh_from_db()
        assert card.state == CardState.ISSUED
        event = CardEvent.objects.get(card=card, kind="issued")
        assert event.by is not None
        assert event.by.username == "counter-staff"
        assert event.from_state == CardState.BOOKED
        assert event.to_state == CardState.ISSUED
        check = CounterCheck.objects.get(card=card)
        assert check.outcome == "issued"
        assert check.identity_kind == "one_a"
        assert check.documents == ["運転免許証"]
        assert check.old_cards == ["notification_card"]
        assert check.receipt_signed is True
        assert check.reservation_id == reservation.pk
        assert event.data["counter_check"] == check.pk
        reservation.refresh_from_db()
        assert reservation.status == Reservation.Status.DONE
        audit = AuditEvent.objects.get(action="card.issue", target=f"Card:{card.pk}")
        assert audit.after["documents"] == ["運転免許証"]
        assert audit.actor_username == "counter-staff"


def test_a_supervisor_may_issue_too(
    booked: tuple[Card, Reservation], supervisor: Client, city: Municipality
) -> None:
    card, _reservation = booked
    with schema_context(city.schema_name):
        data = issue_data()
    assert post(supervisor, card, data).status_code == 302
    assert state_of(city, card) == CardState.ISSUED


def refused(city: Municipality, response: Any, message: str, card: Card) -> None:
    assert response.status_code == 400, response.status_code
    assert message in response.content.decode()
    assert state_of(city, card) == CardState.BOOKED
    with schema_context(city.schema_name):
        assert not CounterCheck.objects.filter(card=card).exists()


def test_one_a_needs_its_document(
    booked: tuple[Card, Reservation], staff: Client, city: Municipality
) -> None:
    card, _ = booked
    with schema_context(city.schema_name):
        data = issue_data(document_a=None)
    refused(city, post(staff, card, data), "A書類を1点選んでください。", card)


def test_two_b_needs_two_different_b_documents(
    booked: tuple[Card, Reservation], staff: Client, city: Municipality
) -> None:
    card, _ = booked
    with schema_context(city.schema_name):
        one = issue_data(identity_kind="two_b", document_a=None, documents_b=[doc("資格確認書")])
        same_twice = issue_data(
            identity_kind="two_b", document_a=None, documents_b=[doc("資格確認書"), doc("資格確認書")]
        )
        an_a_among_b = issue_data(
            identity_kind="two_b", document_a=None, documents_b=[doc("資格確認書"), doc("パスポート")]
        )
        two = issue_data(
            identity_kind="two_b",
            document_a=None,
            documents_b=[doc("資格確認書"), doc("年金手帳・基礎年金番号通知書")],
        )
    refused(city, post(staff, card, one), "B書類を異なる種類で2点選んでください。", card)
    refused(city, post(staff, card, same_twice), "B書類を異なる種類で2点選んでください。", card)
    response = post(staff, card, an_a_among_b)
    assert response.status_code == 400
    assert state_of(city, card) == CardState.BOOKED
    assert post(staff, card, two).status_code == 302
    with schema_context(city.schema_name):
        check = CounterCheck.objects.get(card=card)
        assert check.identity_kind == "two_b"
        assert check.documents == ["資格確認書", "年金手帳・基礎年金番号通知書"]


def test_the_a_document_is_ignored_when_two_b_is_chosen(
    booked: tuple[Card, Reservation], staff: Client, city: Municipality
) -> None:
    card, _ = booked
    with schema_context(city.schema_name):
        data = issue_data(identity_kind="two_b", documents_b=[doc("資格確認書"), doc("学生証（写真付き）")])
    assert post(staff, card, data).status_code == 302
    with schema_context(city.schema_name):
        assert CounterCheck.objects.get(card=card).documents == ["資格確認書", "学生証（写真付き）"]


def test_an_inactive_document_cannot_be_chosen(
    booked: tuple[Card, Reservation], staff: Client, city: Municipality
) -> None:
    card, _ = booked
    with schema_context(city.schema_name):
        IdentityDocument.objects.filter(name_ja="運転免許証").update(active=False)
        data = issue_data(document_a=doc("運転免許証"))
    response = post(staff, card, data)
    assert response.status_code == 400
    assert state_of(city, card) == CardState.BOOKED


def test_a_proxy_needs_a_reason_and_their_own_documents(
    booked: tuple[Card, Reservation], staff: Client, city: Municipality
) -> None:
    card, _ = booked
    with schema_context(city.schema_name):
        reason = ProxyReason.objects.get(name_ja="病気・けが").pk
        no_reason = issue_data(proxy="on", proxy_documents=[doc("パスポート")])
        no_documents = issue_data(proxy="on", proxy_reason=reason)
        one_b = issue_data(proxy="on", proxy_reason=reason, proxy_documents=[doc("資格確認書")])
        complete = issue_data(proxy="on", proxy_reason=reason, proxy_documents=[doc("パスポート")])
    refused(city, post(staff, card, no_reason), "代理人による受取の理由を選んでください。", card)
    message = "代理人の本人確認書類を選んでください（A書類1点、またはB書類2点）。"
    refused(city, post(staff, card, no_documents), message, card)
    refused(city, post(staff, card, one_b), message, card)
    assert post(staff, card, complete).status_code == 302
    with schema_context(city.schema_name):
        check = CounterCheck.objects.get(card=card)
        assert check.proxy is True
        assert check.proxy_reason == "病気・けが"
        assert check.proxy_documents == ["パスポート"]


def test_under_15_needs_the_guardian(city: Municipality, staff: Client) -> None:
    birth = date(TODAY.year - 10, 1, 1)
    with schema_context(city.schema_name):
        child = a_card(name="上尾 子", birth_date=birth)
        book([child])
        data = issue_data()
    page = staff.get(checklist_url(child)).content.decode()
    assert f"15歳未満（{age_on(birth, TODAY)}歳）の方です。" in page
    refused(city, post(staff, child, data), "15歳未満の方です。法定代理人が同行し", child)
    assert post(staff, child, {**data, "guardian": "on"}).status_code == 302
    with schema_context(city.schema_name):
        assert CounterCheck.objects.get(card=child).guardian is True


def test_the_guardian_rule_turns_on_the_15th_birthday() -> None:
    assert age_on(date(2011, 5, 10), date(2026, 5, 9)) == 14
    assert age_on(date(2011, 5, 10), date(2026, 5, 10)) == 15
    assert age_on(date(2012, 2, 29), date(2027, 2, 28)) == 14
    assert age_on(date(2012, 2, 29), date(2027, 3, 1)) == 15


def test_the_receipt_must_be_signed_to_issue(
    booked: tuple[Card, Reservation], staff: Client, city: Municipality
) -> None:
    card, _ = booked
    with schema_context(city.schema_name):
        data = issue_data(receipt_signed=None)
    refused(city, post(staff, card, data), "受領書に署名をもらってから交付してください。", card)


def test_not_issuing_needs_a_reason_and_returns_the_card_to_waiting(
    booked: tuple[Card, Reservation], staff: Client, city: Municipality
) -> None:
    card, reservation = booked
    with schema_context(city.schema_name):
        data = issue_data(outcome="not_issued", document_a=None, receipt_signed=None)
    refused(city, post(staff, card, data), "交付しなかった理由を入力してください。", card)
    response = post(staff, card, {**data, "not_issued_reason": "本人確認書類を忘れた"})
    assert response.status_code == 302
    assert (
        f"カード {card.notice_number} を交付しなかったことを記録しました。"
        in staff.get(response["Location"]).content.decode()
    )
    with schema_context(city.schema_name):
        card.refresh_from_db()
        assert card.state == CardState.NOTICE_MAILED  # waits for a new booking
        event = CardEvent.objects.get(card=card, kind="not_issued")
        assert event.reason == "本人確認書類を忘れた"
        check = CounterCheck.objects.get(card=card)
        assert check.outcome == "not_issued"
        assert check.not_issued_reason == "本人確認書類を忘れた"
        reservation.refresh_from_db()
        assert reservation.status == Reservation.Status.DONE  # the visit is over; the card waits for the next
    page = staff.get(checklist_url(card)).content.decode()
    assert "本人確認書類を忘れた" in page  # the history under the checklist


def test_an_individual_number_in_the_reason_is_refused(
    booked: tuple[Card, Reservation], staff: Client, city: Municipality
) -> None:
    card, _ = booked
    data = {
        "identity_kind": "one_a",
        "outcome": "not_issued",
        "not_issued_reason": "番号 1234-5678-9018 を提示",
    }
    refused(city, post(staff, card, data), "個人番号（マイナンバー）は入力しないでください。", card)
    with schema_context(city.schema_name):
        assert not AuditEvent.objects.filter(summary__contains="123456789018").exists()


def test_a_reason_with_markup_is_shown_as_text(booked: tuple[Card, Reservation], staff: Client) -> None:
    card, _ = booked
    data = {
        "identity_kind": "one_a",
        "outcome": "not_issued",
        "not_issued_reason": "<script>alert(1)</script>",
    }
    assert post(staff, card, data).status_code == 302
    page = staff.get(checklist_url(card)).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_submission_without_an_outcome_is_refused(
    booked: tuple[Card, Reservation], staff: Client, city: Municipality
) -> None:
    card, _ = booked
    with schema_context(city.schema_name):
        data = issue_data(outcome=None)
    refused(city, post(staff, card, data), "「交付済にする」か「交付しなかった」を選んでください。", card)


@pytest.mark.parametrize(
    ("state", "express", "message"),
    [
        (CardState.DELIVERED, False, "「納品済」のため「交付済にする」を行えません"),
        (CardState.SET_UP, False, "「交付前設定済」のため"),
        (CardState.DISPOSED, False, "「廃棄済」のため"),
        (CardState.CANCELLED, False, "「取消」のため"),
        (CardState.NOTICE_MAILED, True, "特急発行のカード"),
    ],
)
def test_a_card_that_cannot_be_handed_over_is_refused_before_the_form(
    city: Municipality, staff: Client, state: str, express: bool, message: str
) -> None:
    with schema_context(city.schema_name):
        card = adult(state=state, express=express)
        data = issue_data()
    page = staff.get(checklist_url(card))
    assert page.status_code == 409
    html = page.content.decode()
    assert message in html
    assert "交付済にする</button>" not in html
    assert post(staff, card, data).status_code == 409
    assert state_of(city, card) == state


def test_a_card_waiting_without_a_booking_may_be_issued(city: Municipality, staff: Client) -> None:
    """A walk-in with the notice letter: the card is in "notice mailed" or "returned mail", with no booking."""
    with schema_context(city.schema_name):
        card = adult(state=CardState.RETURNED_MAIL)
        data = issue_data()
    assert post(staff, card, data).status_code == 302
    assert state_of(city, card) == CardState.ISSUED
