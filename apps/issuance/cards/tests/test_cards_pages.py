"""The card list, the card page with its history, one-card and bulk transitions: who may see and change what."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.issuance.models import Card, CardEvent, CardState
from apps.security.audit_models import AuditEvent
from apps.security.models import Role, User
from base.mynumber import check_digit
from tenants.models import Municipality
from tests.factories import (
    CardEventFactory,
    CardFactory,
    CounterCheckFactory,
    NoticePrintFactory,
    SlotFactory,
    UserFactory,
    role_client,
)

LIST_URL = "/staff/cards/"


def listed(client: Client, query: dict[str, str]) -> Any:
    """Filter the list as the page does: POST, then follow the 303 to the opaque id (`page` rides on it)."""
    query = dict(query)
    page = query.pop("page", None)
    response = client.post(LIST_URL, query)
    if response.status_code == 303:
        location = response["Location"]
        assert location.startswith(f"{LIST_URL}?s="), location
        assert not any(len(value) >= 5 and value in location for value in query.values()), location
        response = client.get(location + (f"&page={page}" if page else ""))
    return response


BULK_URL = "/staff/cards/bulk/"
# A valid 個人番号 (check digit computed), the kind of number no input may carry.
INDIVIDUAL_NUMBER = "12345678901" + str(check_digit("12345678901"))


def card_url(card: Card) -> str:
    return f"/staff/cards/{card.pk}/"


def transition_url(card: Card) -> str:
    return f"/staff/cards/{card.pk}/transition/"


def person(username: str, **kwargs: Any) -> User:
    return UserFactory.create(username=username, **kwargs)


def make_card(city: Municipality, **kwargs: Any) -> Card:
    with schema_context(city.schema_name):
        return CardFactory.create(**kwargs)


def state_of(city: Municipality, card: Card) -> str:
    with schema_context(city.schema_name):
        return Card.objects.get(pk=card.pk).state


def events_of(city: Municipality, card: Card) -> list[CardEvent]:
    with schema_context(city.schema_name):
        return list(CardEvent.objects.filter(card_id=card.pk))


@pytest.fixture
def supervisor(city: Municipality) -> Client:
    return role_client(city, Role.SUPERVISOR)


@pytest.fixture
def staff(city: Municipality) -> Client:
    return role_client(city, Role.STAFF)


def text(response: Any) -> str:
    return str(response.content.decode())


# The list


def test_the_list_shows_each_card_with_name_kana_birth_date_state_and_batch(
    city: Municipality, staff: Client
) -> None:
    card = make_card(
        city,
        notice_number="A1B-123456",
        name="上尾 花子",
        kana="アゲオ ハナコ",
        birth_date=date(1980, 4, 1),
        delivery_batch="2026-10-第1回",
    )
    page = staff.get(LIST_URL)
    assert page.status_code == 200
    body = text(page)
    for shown in ["A1B-123456", "上尾 花子", "アゲオ ハナコ", "1980-04-01", "昭和55年4月1日", "通知書発送済"]:
        assert shown in body
    assert "2026-10-第1回" in body
    assert card_url(card) in body


def test_filters_by_state_batch_delivery_dates_and_express(city: Municipality, staff: Client) -> None:
    delivered = make_card(
        city, state=CardState.DELIVERED, delivery_batch="B1", delivery_date=date(2026, 10, 1)
    )
    set_up = make_card(city, state=CardState.SET_UP, delivery_batch="B2", delivery_date=date(2026, 10, 20))
    express = make_card(
        city, state=CardState.DELIVERED, delivery_batch="B2", express=True, delivery_date=date(2026, 11, 5)
    )

    def shown(**query: str) -> set[str]:
        body = text(listed(staff, query))
        return {c.notice_number for c in (delivered, set_up, express) if c.notice_number in body}

    assert shown(state="delivered") == {delivered.notice_number, express.notice_number}
    assert shown(batch="B2") == {set_up.notice_number, express.notice_number}
    assert shown(delivered_from="2026-10-10", delivered_to="2026-10-31") == {set_up.notice_number}
    assert shown(express="yes") == {express.notice_number}
    assert shown(express="no", state="delivered") == {delivered.notice_number}


def test_a_reversed_date_range_is_refused_in_japanese(city: Municipality, staff: Client) -> None:
    page = listed(staff, {"delivered_from": "2026-10-31", "delivered_to": "2026-10-01"})
    assert page.status_code == 400
    assert "「から」より後の日を「まで」にしてください" in text(page)


@pytest.mark.parametrize(
    "typed", ["A1B-123456", "a1b123456", "Ａ１Ｂ－１２３４５６", "ａ１ｂ１２３４５６", " A1B 123456 "]
)
def test_a_notice_number_in_any_width_with_or_without_hyphen_finds_exactly_that_card(
    city: Municipality, staff: Client, typed: str
) -> None:
    make_card(city, notice_number="A1B-123456")
    make_card(city, notice_number="A1B-123457")
    body = text(listed(staff, {"q": typed}))
    assert "A1B-123456" in body
    assert "A1B-123457" not in body


@pytest.mark.parametrize("typed", ["アゲオ", "あげお", "ｱｹﾞｵ", "あげお　はな", "アゲオハナ"])
def test_kana_search_matches_the_folded_key_prefix(city: Municipality, staff: Client, typed: str) -> None:
    make_card(city, notice_number="A1B-000001", kana="アゲオ ハナコ")
    make_card(city, notice_number="A1B-000002", kana="オケガワ ジロウ")
    body = text(listed(staff, {"q": typed}))
    assert "A1B-000001" in body
    assert "A1B-000002" not in body


def test_counts_per_state_and_pages_of_fifty(city: Municipality, staff: Client) -> None:
    with schema_context(city.schema_name):
        CardFactory.create_batch(51, state=CardState.NOTICE_MAILED)
        CardFactory.create_batch(2, state=CardState.RETURNED_MAIL)
    first = listed(staff, {"state": "notice_mailed"})
    body = text(first)
    assert "通知書発送済 51件" in body
    assert "返戻 2件" in body
    assert "合計 53件" in body
    assert "1 / 2 ページ" in body
    assert body.count("の詳細</a>") == 50
    second = listed(staff, {"state": "notice_mailed", "page": "2"})
    assert text(second).count("の詳細</a>") == 1


def test_viewing_the_list_is_recorded_once_per_page_view(city: Municipality, staff: Client) -> None:
    make_card(city)
    with schema_context(city.schema_name):
        before = AuditEvent.objects.filter(action="personal_data.viewed", target="issuance:cards").count()
    listed(staff, {"q": "あげお"})
    with schema_context(city.schema_name):
        events = AuditEvent.objects.filter(action="personal_data.viewed", target="issuance:cards")
        assert events.count() == before + 1
        assert events.order_by("-sequence")[0].after == {"filters": {"q": "あげお"}}


def test_the_list_costs_the_same_queries_for_3_and_40_cards(city: Municipality, staff: Client) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff.get(LIST_URL).status_code == 200
        return len(captured)

    with schema_context(city.schema_name):
        CardFactory.create_batch(3)
    staff.get(LIST_URL)
    few = queries()
    with schema_context(city.schema_name):
        CardFactory.create_batch(37, delivery_batch="2026-12-01")
    assert queries() == few


def test_a_12_digit_individual_number_in_the_search_box_is_refused(city: Municipality, staff: Client) -> None:
    card = make_card(city)
    page = listed(staff, {"q": INDIVIDUAL_NUMBER})
    assert page.status_code == 400
    body = text(page)
    assert "個人番号（マイナンバー）は入力しないでください" in body
    assert card.notice_number not in body  # no list is shown, and nothing is searched or recorded
    with schema_context(city.schema_name):
        assert not AuditEvent.objects.filter(action="personal_data.viewed", target="issuance:cards").exists()


# The card page


def test_the_card_page_shows_each_event_with_who_and_when_in_japan_time(
    city: Municipality, supervisor: Client
) -> None:
    card = make_card(city, state=CardState.DELIVERED)
    with schema_context(city.schema_name):
        clerk = person("suzuki", display_name="鈴木 一郎")
        CardEventFactory.create(
            card=card,
            kind="imported",
            to_state=CardState.DELIVERED,
            at=datetime(2026, 10, 1, 0, 30, tzinfo=UTC),
            by_label="system",
            data={"file_name": "cards-1001.csv"},
        )
        CardEventFactory.create(
            card=card,
            kind="changed",
            at=datetime(2026, 10, 2, 1, 0, tzinfo=UTC),
            by=clerk,
            by_label="鈴木 一郎",
            data={"batch": 3, "line": 12, "before": {"address": "本町1-1"}, "after": {"address": "本町2-2"}},
        )
        NoticePrintFactory.create(variant="letter", card_count=40, by=clerk, cards=[card])
        logged = NoticePrintFactory.create(variant="postcard", card_count=1, by=clerk, cards=[card])
        CardEventFactory.create(
            card=card,
            kind="printed",
            at=logged.at,
            by=clerk,
            by_label="鈴木 一郎",
            data={"print_id": logged.pk, "variant": "postcard", "kind": "notice"},
        )
    response = supervisor.post(
        transition_url(card), {"action": "set_up", "reason": "統合端末で設定"}, follow=True
    )
    assert response.status_code == 200
    body = text(response)
    assert "交付前設定済にする」を記録しました" in body
    assert "2026-10-01 09:30" in body  # 00:30 UTC
    assert "カード一覧から登録" in body
    assert "cards-1001.csv" in body
    assert "カード一覧の内容変更" in body
    assert "本町1-1 → 本町2-2" in body
    assert "住所" in body
    assert "鈴木 一郎" in body
    assert "交付通知書を印刷" in body  # a print log entry without its own event
    assert body.count("通知書印刷") == 1
    assert "用紙：はがき" in body
    assert "取込ファイルの行：12" in body
    assert "納品済 → 交付前設定済" in body
    assert "統合端末で設定" in body
    assert "ageo-supervisor" in body  # who set it up
    history = body[body.index("card-history-title") :]
    assert (
        history.index("カード一覧から登録")
        < history.index("カード一覧の内容変更")
        < history.index("交付前設定")
    )


def test_the_card_page_lists_counter_checks(city: Municipality, staff: Client) -> None:
    card = make_card(city, state=CardState.NOTICE_MAILED)
    with schema_context(city.schema_name):
        clerk = person("counter-7")
        CounterCheckFactory.create(
            card=card,
            identity_kind="two_b",
            documents=["資格確認書", "年金手帳・基礎年金番号通知書"],
            old_cards=["notification_card"],
            receipt_signed=True,
            outcome="not_issued",
            not_issued_reason="書類不足",
            by=clerk,
            at=datetime(2026, 11, 2, 5, 0, tzinfo=UTC),
        )
    body = text(staff.get(card_url(card)))
    for shown in [
        "窓口での確認",
        "B書類2点",
        "資格確認書",
        "通知カード",
        "書類不足",
        "counter-7",
        "2026-11-02 14:00",
    ]:
        assert shown in body


def test_only_the_actions_allowed_now_are_offered(city: Municipality, supervisor: Client) -> None:
    card = make_card(city, state=CardState.NOTICE_MAILED)
    body = text(supervisor.get(card_url(card)))
    for offered in ["return_mail", "remind", "expire", "cancel"]:
        assert f'name="action" value="{offered}"' in body
    for hidden in [
        "set_up",
        "mail_notice",
        "dispose",
        "book",
        "issue",
        "not_issue",
        "no_show",
        "print",
        "resend",
    ]:
        assert f'name="action" value="{hidden}"' not in body
    express = make_card(city, state=CardState.SET_UP, express=True)
    body = text(supervisor.get(card_url(express)))
    assert 'name="action" value="mail_to_resident"' in body
    assert 'name="action" value="mail_notice"' not in body


def test_a_refused_action_says_why_in_japanese_and_changes_nothing(
    city: Municipality, supervisor: Client
) -> None:
    card = make_card(city, state=CardState.DELIVERED)
    response = supervisor.post(
        transition_url(card), {"action": "dispose", "disposal_method": "destroyed", "reason": "期限切れ"}
    )
    assert response.status_code == 409
    assert "「納品済」のため「廃棄済にする」を行えません" in text(response)
    assert state_of(city, card) == CardState.DELIVERED
    assert events_of(city, card) == []


def test_actions_from_other_pages_are_refused_here(city: Municipality, supervisor: Client) -> None:
    card = make_card(city, state=CardState.NOTICE_MAILED)
    response = supervisor.post(transition_url(card), {"action": "issue"})
    assert response.status_code == 400
    assert "このページでは行えません" in text(response)
    assert state_of(city, card) == CardState.NOTICE_MAILED


def test_dispose_needs_a_method_and_the_input_is_kept(city: Municipality, supervisor: Client) -> None:
    card = make_card(city, state=CardState.RETENTION_EXPIRED)
    response = supervisor.post(transition_url(card), {"action": "dispose", "reason": "月次の廃棄"})
    assert response.status_code == 400
    body = text(response)
    assert "廃棄の方法を選んでください" in body
    assert 'value="月次の廃棄"' in body
    assert state_of(city, card) == CardState.RETENTION_EXPIRED
    response = supervisor.post(
        transition_url(card), {"action": "dispose", "disposal_method": "returned_to_jlis"}, follow=True
    )
    assert "J-LISへ返送" in text(response)
    with schema_context(city.schema_name):
        card.refresh_from_db()
    assert (card.state, card.disposal_method) == (CardState.DISPOSED, "returned_to_jlis")


def test_cancel_for_other_reasons_needs_the_reason_typed(city: Municipality, supervisor: Client) -> None:
    card = make_card(city, state=CardState.SET_UP)
    response = supervisor.post(transition_url(card), {"action": "cancel", "cancel_reason": "other"})
    assert response.status_code == 400
    assert "理由を入力してください" in text(response)
    supervisor.post(transition_url(card), {"action": "cancel", "cancel_reason": "moved_out"})
    assert state_of(city, card) == CardState.CANCELLED
    body = text(supervisor.get(card_url(card)))
    assert "取消の理由：転出" in body


def test_a_12_digit_individual_number_in_a_reason_is_refused(city: Municipality, supervisor: Client) -> None:
    card = make_card(city, state=CardState.NOTICE_MAILED)
    response = supervisor.post(
        transition_url(card), {"action": "return_mail", "reason": f"番号 {INDIVIDUAL_NUMBER}"}
    )
    assert response.status_code == 400
    assert "個人番号（マイナンバー）は入力しないでください" in text(response)
    assert state_of(city, card) == CardState.NOTICE_MAILED
    assert events_of(city, card) == []


def test_viewing_a_card_is_recorded(city: Municipality, staff: Client) -> None:
    card = make_card(city)
    staff.get(card_url(card))
    with schema_context(city.schema_name):
        assert AuditEvent.objects.filter(action="personal_data.viewed", target=f"Card:{card.pk}").count() == 1


def test_a_booked_card_links_to_its_booking_day(city: Municipality, staff: Client) -> None:
    from apps.booking.staff.tests.test_staff_day import TOMORROW, book

    with schema_context(city.schema_name):
        reservation = book(city, SlotFactory.create(day=TOMORROW, at=time(9, 0)))
        card = CardFactory.create(state=CardState.BOOKED, reservation=reservation)
    body = text(staff.get(card_url(card)))
    assert reservation.code in body
    assert f"/staff/booking/day/?date={TOMORROW:%Y-%m-%d}" in body


# Bulk


def _bulk(client: Client, data: dict[str, Any], confirm: bool = False) -> Any:
    payload = {**data, **({"confirm": "1"} if confirm else {})}
    return client.post(BULK_URL, payload, follow=confirm)


def test_bulk_on_ticked_cards_previews_then_skips_the_ones_that_do_not_fit(
    city: Municipality, supervisor: Client
) -> None:
    ready = [make_card(city, state=CardState.SET_UP) for _ in range(3)]
    early = make_card(city, state=CardState.DELIVERED)
    express = make_card(city, state=CardState.SET_UP, express=True)
    data = {"action": "mail_notice", "scope": "selected", "ids": [c.pk for c in [*ready, early, express]]}
    preview = _bulk(supervisor, data)
    assert preview.status_code == 200
    body = text(preview)
    assert "3件を「通知書発送済にする」" in body
    assert early.notice_number in body
    assert "「納品済」のため" in body
    assert express.notice_number in body
    assert "特急発行のカード" in body
    assert all(state_of(city, c) == CardState.SET_UP for c in ready)  # nothing changed yet

    done = _bulk(supervisor, data, confirm=True)
    body = text(done)
    assert "3件を変更しました。対象外 2件" in body
    assert early.notice_number in body  # named with its reason
    assert all(state_of(city, c) == CardState.NOTICE_MAILED for c in ready)
    assert state_of(city, early) == CardState.DELIVERED
    assert state_of(city, express) == CardState.SET_UP
    with schema_context(city.schema_name):
        assert AuditEvent.objects.filter(action="card.bulk_mail_notice").count() == 1


def test_bulk_over_a_whole_delivery_batch(city: Municipality, supervisor: Client) -> None:
    with schema_context(city.schema_name):
        batch = CardFactory.create_batch(60, state=CardState.DELIVERED, delivery_batch="2026-10-15")
        other = CardFactory.create(state=CardState.DELIVERED, delivery_batch="2026-11-01")
    data = {"action": "set_up", "scope": "batch", "target_batch": "2026-10-15"}
    assert "60件を「交付前設定済にする」" in text(_bulk(supervisor, data))
    assert "60件を変更しました。対象外 0件" in text(_bulk(supervisor, data, confirm=True))
    with schema_context(city.schema_name):
        assert Card.objects.filter(pk__in=[c.pk for c in batch], state=CardState.SET_UP).count() == 60
        assert CardEvent.objects.filter(kind="set_up").count() == 60
    assert state_of(city, other) == CardState.DELIVERED


def test_bulk_over_every_card_matching_the_filter_carries_the_filter_not_the_ids(
    city: Municipality, supervisor: Client
) -> None:
    matching = [make_card(city, state=CardState.RETENTION_EXPIRED, kana="アゲオ タロウ") for _ in range(2)]
    not_matching = make_card(city, state=CardState.RETENTION_EXPIRED, kana="オケガワ ハナコ")
    page = text(listed(supervisor, {"q": "あげお", "state": "retention_expired"}))
    assert 'type="hidden" name="q" value="あげお"' in page
    data = {
        "q": "あげお",
        "state": "retention_expired",
        "action": "dispose",
        "scope": "filter",
        "disposal_method": "destroyed",
    }
    preview = text(_bulk(supervisor, data))
    assert "2件を「廃棄済にする」" in preview
    assert "番号・ふりがなで検索：あげお" in preview
    assert "状態：保管期限切れ" in preview
    _bulk(supervisor, data, confirm=True)
    assert all(state_of(city, c) == CardState.DISPOSED for c in matching)
    assert state_of(city, not_matching) == CardState.RETENTION_EXPIRED


def test_bulk_without_a_choice_is_refused_with_the_list_kept(city: Municipality, supervisor: Client) -> None:
    make_card(city, state=CardState.DELIVERED)
    response = _bulk(supervisor, {"action": "set_up", "scope": "selected"})
    assert response.status_code == 400
    assert "カードを1件以上チェックしてください" in text(response)
    response = _bulk(supervisor, {"action": "dispose", "scope": "batch", "target_batch": "2026-11-01"})
    assert response.status_code == 400
    assert "廃棄の方法を選んでください" in text(response)


def test_bulk_when_nothing_fits_offers_no_button(city: Municipality, supervisor: Client) -> None:
    card = make_card(city, state=CardState.ISSUED)
    body = text(_bulk(supervisor, {"action": "set_up", "scope": "selected", "ids": [card.pk]}))
    assert "変更できるカードはありません" in body
    assert 'name="confirm"' not in body


# Who may do what


def test_counter_staff_may_look_but_not_change(city: Municipality, staff: Client) -> None:
    card = make_card(city, state=CardState.NOTICE_MAILED)
    assert staff.get(LIST_URL).status_code == 200
    page = staff.get(card_url(card))
    assert page.status_code == 200
    assert 'name="action"' not in text(page)
    assert 'name="ids"' not in text(staff.get(LIST_URL))
    assert staff.post(transition_url(card), {"action": "return_mail"}).status_code == 403
    assert (
        staff.post(BULK_URL, {"action": "return_mail", "scope": "selected", "ids": [card.pk]}).status_code
        == 403
    )
    assert staff.get("/staff/cards/settings/").status_code == 403
    assert state_of(city, card) == CardState.NOTICE_MAILED


def test_auditors_and_strangers_get_nothing(city: Municipality, city_client: Client) -> None:
    card = make_card(city)
    auditor = role_client(city, Role.AUDITOR)
    assert auditor.get(LIST_URL).status_code == 403
    assert auditor.get(card_url(card)).status_code == 403
    for url in (LIST_URL, card_url(card)):
        response = city_client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    assert city_client.post(transition_url(card), {"action": "return_mail"}).status_code == 302
    assert state_of(city, card) == CardState.NOTICE_MAILED


def test_another_city_sees_counts_and_changes_none_of_it(
    city: Municipality, other_city: Municipality
) -> None:
    card = make_card(city, state=CardState.NOTICE_MAILED, notice_number="Z9Z-999999")
    okegawa = role_client(other_city, Role.SUPERVISOR, "okegawa-boss")
    listing = listed(okegawa, {"q": "Z9Z-999999"})
    assert listing.status_code == 200
    assert "条件に合うカード 0件" in text(listing)
    assert card_url(card) not in text(listing)
    assert "合計 0件" in text(okegawa.get(LIST_URL))
    assert okegawa.get(card_url(card)).status_code == 404
    assert okegawa.post(transition_url(card), {"action": "return_mail"}).status_code == 404
    okegawa.post(BULK_URL, {"action": "return_mail", "scope": "selected", "ids": [card.pk]}, follow=True)
    assert state_of(city, card) == CardState.NOTICE_MAILED
    assert events_of(city, card) == []
