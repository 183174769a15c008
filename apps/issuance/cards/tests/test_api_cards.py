"""The cards API (issue 13, item 3): the list with filters and cursor pages, one card by its notice number with
its history, a transition with its reason; scopes, the other city, audit rows with the key as actor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.issuance.models import Card, CardEvent, CardState
from apps.security.audit_models import ActorKind, AuditEvent
from apps.security.models import ApiKey, ApiScope
from apps.security.tests.api_helpers import bearer, make_key, problem
from base.mynumber import check_digit
from tenants.models import Municipality
from tests.factories import CardEventFactory, CardFactory

CARDS = "/api/v1/cards/"
INDIVIDUAL_NUMBER = "12345678901" + str(check_digit("12345678901"))


def card_url(number: str) -> str:
    return f"{CARDS}{number}/"


def transitions_url(number: str) -> str:
    return f"{CARDS}{number}/transitions/"


@pytest.fixture
def reader(city: Municipality) -> tuple[ApiKey, str]:
    return make_key(city, ApiScope.CARDS_READ, name="住民記録システム（読取）")


@pytest.fixture
def writer(city: Municipality) -> tuple[ApiKey, str]:
    return make_key(city, ApiScope.CARDS_WRITE, name="住民記録システム（更新）")


def make_card(city: Municipality, **kwargs: Any) -> Card:
    with schema_context(city.schema_name):
        return CardFactory.create(**kwargs)


def api_audit(city: Municipality, key: ApiKey, action: str) -> list[AuditEvent]:
    with schema_context(city.schema_name):
        return list(
            AuditEvent.objects.filter(
                action=action, actor_kind=ActorKind.API_KEY, actor_username__startswith=f"api:{key.prefix}"
            )
        )


# --- the list -------------------------------------------------------------------------------------------------------


def test_the_list_shows_the_staff_lists_columns_and_is_audited(
    city: Municipality, city_client: Client, reader: tuple[ApiKey, str]
) -> None:
    card = make_card(city, notice_number="K7R-204113", name="上尾 太郎", kana="アゲオ タロウ", express=True)
    response = city_client.get(CARDS, **bearer(reader[1]))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["next"] is None
    [item] = body["results"]
    assert item["notice_number"] == "K7R-204113"
    assert item["name"] == "上尾 太郎"
    assert item["kana"] == "アゲオ タロウ"
    assert item["birth_date"] == card.birth_date.isoformat()
    assert item["state"] == "notice_mailed"
    assert item["state_label"] == "通知書発送済"
    assert item["express"] is True
    assert item["delivery_batch"] == card.delivery_batch
    # Never the address or anything else the list does not show.
    assert "address" not in item
    assert "postal_code" not in item
    [row] = api_audit(city, reader[0], "personal_data.viewed")
    assert row.target == "issuance:cards"


def test_filters_select_the_cards_the_staff_list_would(
    city: Municipality, city_client: Client, reader: tuple[ApiKey, str]
) -> None:
    today = timezone.localdate()
    make_card(
        city, notice_number="A0B-000001", state="delivered", delivery_batch="第1回", delivery_date=today
    )
    make_card(
        city,
        notice_number="A0B-000002",
        state="notice_mailed",
        delivery_batch="第2回",
        delivery_date=today - timedelta(days=10),
    )
    make_card(city, notice_number="A0B-000003", state="notice_mailed", delivery_batch="第2回", express=True)

    def numbers(query: dict[str, str]) -> list[str]:
        response = city_client.get(CARDS, query, **bearer(reader[1]))
        assert response.status_code == 200, response.content
        return [item["notice_number"] for item in response.json()["results"]]

    assert numbers({"state": "notice_mailed", "ordering": "notice_number"}) == ["A0B-000002", "A0B-000003"]
    assert numbers({"delivery_batch": "第1回"}) == ["A0B-000001"]
    assert numbers({"express": "true"}) == ["A0B-000003"]
    assert numbers({"express": "false", "ordering": "-notice_number"}) == ["A0B-000002", "A0B-000001"]
    assert numbers({"delivered_to": (today - timedelta(days=1)).isoformat()}) == ["A0B-000002"]
    assert numbers({"delivered_from": today.isoformat(), "ordering": "notice_number"}) == [
        "A0B-000001",
        "A0B-000003",
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"state": "lost"}, "state"),
        ({"delivered_from": "2026-13-01"}, "delivered_from"),
        ({"delivered_from": "2026-12-10", "delivered_to": "2026-12-01"}, "delivered_to"),
        ({"express": "maybe"}, "express"),
        ({"ordering": "name"}, "ordering"),
        ({"limit": "0"}, "limit"),
        ({"cursor": "forged"}, "cursor"),
    ],
)
def test_bad_filters_are_400_with_the_field_named(
    city_client: Client, reader: tuple[ApiKey, str], query: dict[str, str], field: str
) -> None:
    response = city_client.get(CARDS, query, **bearer(reader[1]))
    assert response.status_code == 400
    body = problem(response)
    assert body["code"] == "validation_failed"
    assert field in body["errors"]


def test_a_walk_through_the_pages_sees_every_card_once(
    city: Municipality, city_client: Client, reader: tuple[ApiKey, str]
) -> None:
    today = timezone.localdate()
    with schema_context(city.schema_name):
        for n in range(7):
            # Two cards share each delivery date: the id breaks the tie.
            CardFactory.create(notice_number=f"C1D-{n:06d}", delivery_date=today - timedelta(days=n // 2))
    seen: list[str] = []
    url: str | None = f"{CARDS}?limit=3&ordering=-delivery_date"
    pages = 0
    while url:
        response = city_client.get(url, **bearer(reader[1]))
        assert response.status_code == 200, response.content
        body = response.json()
        seen += [item["notice_number"] for item in body["results"]]
        url = body["next"]
        pages += 1
    assert pages == 3
    assert sorted(seen) == [f"C1D-{n:06d}" for n in range(7)]
    assert len(seen) == len(set(seen))
    with schema_context(city.schema_name):
        dates = [Card.objects.get(notice_number=number).delivery_date for number in seen]
    assert dates == sorted(dates, reverse=True)


# --- one card -------------------------------------------------------------------------------------------------------


def test_a_card_by_its_notice_number_with_its_history(
    city: Municipality, city_client: Client, reader: tuple[ApiKey, str]
) -> None:
    card = make_card(city, notice_number="K7R-204113", state="set_up")
    with schema_context(city.schema_name):
        CardEventFactory.create(card=card, kind="imported", by_label="system")
        CardEventFactory.create(
            card=card, kind="set_up", from_state="delivered", to_state="set_up", by_label="system"
        )
    # Any width, without the hyphen, as staff type it.
    response = city_client.get(card_url("ｋ７ｒ204113"), **bearer(reader[1]))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["notice_number"] == "K7R-204113"
    assert body["booking"] is None
    assert [entry["event"] for entry in body["history"]] == ["imported", "set_up"]
    assert body["history"][1]["from_state"] == "delivered"
    assert body["history"][1]["to_state"] == "set_up"
    assert body["history"][1]["title"] == "交付前設定"
    offered = {action["action"] for action in body["actions"]}
    assert "mail_notice" in offered
    assert "issue" not in offered  # the counter's
    [row] = api_audit(city, reader[0], "personal_data.viewed")
    assert row.target == f"Card:{card.pk}"


def test_an_unknown_notice_number_is_404(city_client: Client, reader: tuple[ApiKey, str]) -> None:
    response = city_client.get(card_url("Z9Z-999999"), **bearer(reader[1]))
    assert response.status_code == 404
    assert problem(response)["code"] == "not_found"


# --- transitions ----------------------------------------------------------------------------------------------------


def test_a_transition_is_recorded_with_the_key_as_actor(
    city: Municipality, city_client: Client, writer: tuple[ApiKey, str]
) -> None:
    card = make_card(city, notice_number="K7R-204113", state="notice_mailed")
    response = city_client.post(
        transitions_url("K7R-204113"),
        {"action": "return_mail", "reason": "宛所に尋ねあたりません"},
        content_type="application/json",
        **bearer(writer[1]),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "returned_mail"
    assert body["event"]["from_state"] == "notice_mailed"
    assert body["event"]["reason"] == "宛所に尋ねあたりません"
    with schema_context(city.schema_name):
        assert Card.objects.get(pk=card.pk).state == CardState.RETURNED_MAIL
        event = CardEvent.objects.get(card=card)
    assert event.by is None
    assert event.by_label.startswith(f"api:{writer[0].prefix}")
    [row] = api_audit(city, writer[0], "card.return_mail")
    assert row.target == f"Card:{card.pk}"


def test_a_refused_transition_is_409_with_the_japanese_reason(
    city: Municipality, city_client: Client, writer: tuple[ApiKey, str]
) -> None:
    card = make_card(city, notice_number="K7R-204113", state="issued")
    response = city_client.post(
        transitions_url("K7R-204113"),
        {"action": "return_mail"},
        content_type="application/json",
        **bearer(writer[1]),
    )
    assert response.status_code == 409
    body = problem(response)
    assert body["code"] == "card_transition_refused"
    assert body["detail"] == "カード K7R-204113 は「交付済」のため「返戻にする」を行えません。"
    with schema_context(city.schema_name):
        assert Card.objects.get(pk=card.pk).state == CardState.ISSUED
        assert not CardEvent.objects.filter(card=card).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"action": "issue"}, "action"),  # the counter checklist's
        ({"action": "fly"}, "action"),
        ({"action": "dispose"}, "disposal_method"),
        ({"action": "cancel", "cancel_reason": "other"}, "reason"),
        ({"action": "cancel", "cancel_reason": "lost"}, "cancel_reason"),
        ({}, "action"),
    ],
)
def test_a_transition_missing_what_its_action_needs_is_400(
    city: Municipality,
    city_client: Client,
    writer: tuple[ApiKey, str],
    payload: dict[str, str],
    field: str,
) -> None:
    card = make_card(city, notice_number="K7R-204113", state="retention_expired")
    response = city_client.post(
        transitions_url("K7R-204113"), payload, content_type="application/json", **bearer(writer[1])
    )
    assert response.status_code == 400
    body = problem(response)
    assert body["code"] == "validation_failed"
    assert field in body["errors"]
    with schema_context(city.schema_name):
        assert not CardEvent.objects.filter(card=card).exists()


def test_an_individual_number_in_a_reason_is_refused(
    city: Municipality, city_client: Client, writer: tuple[ApiKey, str]
) -> None:
    card = make_card(city, notice_number="K7R-204113", state="notice_mailed")
    response = city_client.post(
        transitions_url("K7R-204113"),
        {"action": "return_mail", "reason": f"番号 {INDIVIDUAL_NUMBER}"},
        content_type="application/json",
        **bearer(writer[1]),
    )
    assert response.status_code == 400
    body = problem(response)
    assert body["code"] == "individual_number"
    assert "reason" in body["errors"]
    assert INDIVIDUAL_NUMBER not in response.content.decode()
    with schema_context(city.schema_name):
        assert Card.objects.get(pk=card.pk).state == CardState.NOTICE_MAILED


# --- scopes and cities ----------------------------------------------------------------------------------------------


def test_each_operation_needs_its_scope(
    city: Municipality, city_client: Client, reader: tuple[ApiKey, str], writer: tuple[ApiKey, str]
) -> None:
    make_card(city, notice_number="K7R-204113", state="notice_mailed")
    _slots, slots_token = make_key(city, ApiScope.SLOTS_READ, name="予約システム")
    for url in (CARDS, card_url("K7R-204113")):
        refused = city_client.get(url, **bearer(slots_token))
        assert refused.status_code == 403
        assert problem(refused)["code"] == "scope_missing"
        assert "cards:read" in problem(refused)["detail"]
        # cards:write alone does not read.
        assert city_client.get(url, **bearer(writer[1])).status_code == 403
    post = city_client.post(
        transitions_url("K7R-204113"),
        {"action": "return_mail"},
        content_type="application/json",
        **bearer(reader[1]),
    )
    assert post.status_code == 403
    assert problem(post)["code"] == "scope_missing"
    assert "cards:write" in problem(post)["detail"]
    with schema_context(city.schema_name):
        assert Card.objects.get(notice_number="K7R-204113").state == CardState.NOTICE_MAILED


def test_another_citys_key_is_unknown_here_and_sees_none_of_this_citys_cards(
    city: Municipality,
    other_city: Municipality,
    city_client: Client,
    other_city_client: Client,
) -> None:
    make_card(city, notice_number="K7R-204113", state="notice_mailed")
    _other, other_token = make_key(other_city, ApiScope.CARDS_READ, ApiScope.CARDS_WRITE, name="桶川の連携")
    here = city_client.get(CARDS, **bearer(other_token))
    assert here.status_code == 401
    assert problem(here)["code"] == "api_key_unknown"
    at_home = other_city_client.get(CARDS, **bearer(other_token))
    assert at_home.status_code == 200
    assert at_home.json()["results"] == []
    assert other_city_client.get(card_url("K7R-204113"), **bearer(other_token)).status_code == 404
    changed = other_city_client.post(
        transitions_url("K7R-204113"),
        {"action": "return_mail"},
        content_type="application/json",
        **bearer(other_token),
    )
    assert changed.status_code == 404
    with schema_context(city.schema_name):
        assert Card.objects.get(notice_number="K7R-204113").state == CardState.NOTICE_MAILED


def test_the_schema_describes_the_cards_operations(city_client: Client, reader: tuple[ApiKey, str]) -> None:
    schema = city_client.get("/api/v1/schema/", {"format": "json"}, **bearer(reader[1])).json()
    listing = schema["paths"]["/api/v1/cards/"]["get"]
    assert listing["summary"] == "カード一覧"
    assert {"state", "delivery_batch", "ordering", "cursor", "limit"} <= {
        p["name"] for p in listing["parameters"]
    }
    change = schema["paths"]["/api/v1/cards/{notice_number}/transitions/"]["post"]
    assert {"200", "400", "401", "403", "404", "409", "429"} <= set(change["responses"])
    assert change["requestBody"]["content"]["application/json"]["examples"]
