"""Reservations through the REST API (issue 13, item 3): a city's call centre books, finds, lists, moves and cancels
with a key, through the staff booking's services; every write audited with the key as the actor; the other city's
keys see nothing."""

from __future__ import annotations

import json
import uuid
from datetime import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.booking import hooks
from apps.booking.calendar.hours import TOKYO
from apps.booking.models import Purpose, Reservation, Slot
from apps.security.audit_models import ActorKind, AuditEvent
from apps.security.models import ApiKey, ApiScope
from apps.security.tests.api_helpers import bearer, make_key, problem
from tenants.models import Municipality
from tests.factories import SlotFactory, visit_day

RESERVATIONS = "/api/v1/reservations/"
SLOTS = "/api/v1/slots/"
MY_NUMBER = "123456789018"  # a valid check digit (DOMAIN.md)
ALL = (ApiScope.SLOTS_READ, ApiScope.RESERVATIONS_READ, ApiScope.RESERVATIONS_WRITE)


@pytest.fixture
def key(city: Municipality) -> tuple[ApiKey, str]:
    return make_key(city, *ALL, name="コールセンター")


def _slot(city: Municipality, *, at: time = time(10, 0), seats: int = 3) -> Slot:
    with schema_context(city.schema_name):
        return SlotFactory.create(day=visit_day(), at=at, seats=seats)


def _body(frame: Slot, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "slot": frame.pk,
        "purpose": "application",
        "persons": [{"name": "上尾 花子", "kana": "あげお はなこ", "birth_date": "1980-04-01"}],
        "phone": "090-1234-5678",
        "email": "hanako@example.jp",
    }
    body.update(changes)
    return body


def _post(
    client: Client, token: str, body: Any, path: str = RESERVATIONS, idempotency_key: str | None = "new"
) -> Any:
    headers = bearer(token)
    if idempotency_key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = str(uuid.uuid4()) if idempotency_key == "new" else idempotency_key
    return client.post(path, json.dumps(body), content_type="application/json", **headers)


def _book(city: Municipality, client: Client, token: str, slot: Slot, **changes: Any) -> dict[str, Any]:
    response = _post(client, token, _body(slot, **changes))
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


# --- slots ------------------------------------------------------------------------------------------------------------


def test_the_frames_of_a_day_with_their_ids_and_free_persons(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    first = _slot(city, at=time(9, 0), seats=3)
    _slot(city, at=time(9, 30), seats=2)
    response = city_client.get(
        SLOTS, {"purpose": "application", "date": visit_day().isoformat()}, **bearer(key[1])
    )
    assert response.status_code == 200, response.content
    frames = response.json()
    assert [f["id"] for f in frames][:1] == [first.pk]
    assert frames[0]["persons_free"] == 3
    assert frames[1]["persons_free"] == 2
    missing = problem(city_client.get(SLOTS, {"purpose": "nothing", "date": "2027-01-05"}, **bearer(key[1])))
    assert missing["code"] == "not_found"
    invalid = problem(city_client.get(SLOTS, {"purpose": "application"}, **bearer(key[1])))
    assert set(invalid["errors"]) == {"date"}


# --- create -----------------------------------------------------------------------------------------------------------


def test_a_key_books_a_caller_201_with_location_and_an_audit_row(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    slot = _slot(city)
    response = _post(city_client, key[1], _body(slot))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "booked"
    assert body["channel"] == "phone"
    assert body["purpose"] == "application"
    assert body["slot"]["id"] == slot.pk
    assert body["persons"] == [
        {"name": "上尾 花子", "kana": "あげお はなこ", "birth_date": "1980-04-01", "notice_number": ""}
    ]
    assert response["Location"].endswith(f"/api/v1/reservations/{body['code']}/")
    with schema_context(city.schema_name):
        reservation = Reservation.objects.get(code=body["code"])
        assert (reservation.email, reservation.phone, reservation.seats) == (
            "hanako@example.jp",
            "090-1234-5678",
            1,
        )
        assert Slot.objects.get(pk=slot.pk).taken == 1
        event = AuditEvent.objects.get(
            action="booking.reservation_phone", target=f"Reservation:{reservation.pk}"
        )
        assert event.actor_kind == ActorKind.API_KEY
        assert event.actor_username.startswith(f"api:{key[0].prefix} ")


def test_a_key_without_the_write_scope_cannot_book(city: Municipality, city_client: Client) -> None:
    slot = _slot(city)
    _key, token = make_key(city, ApiScope.RESERVATIONS_READ, ApiScope.SLOTS_READ)
    refused = problem(_post(city_client, token, _body(slot)))
    assert (refused["status"], refused["code"]) == (403, "scope_missing")
    assert "reservations:write" in refused["detail"]
    _key, write_only = make_key(city, ApiScope.RESERVATIONS_WRITE)
    assert problem(city_client.get(RESERVATIONS, **bearer(write_only)))["code"] == "scope_missing"
    with schema_context(city.schema_name):
        assert not Reservation.objects.exists()


def test_the_idempotency_key_is_required(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    slot = _slot(city)
    refused = problem(_post(city_client, key[1], _body(slot), idempotency_key=None))
    assert (refused["status"], refused["code"]) == (400, "idempotency_key_missing")
    too_long = problem(_post(city_client, key[1], _body(slot), idempotency_key="x" * 256))
    assert (too_long["status"], too_long["code"]) == (400, "idempotency_key_invalid")
    with schema_context(city.schema_name):
        assert not Reservation.objects.exists()


def test_an_individual_number_in_a_persons_name_is_refused(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    slot = _slot(city)
    body = _body(slot, persons=[{"name": f"上尾 {MY_NUMBER}", "birth_date": "1980-04-01"}])
    refused = problem(_post(city_client, key[1], body))
    assert (refused["status"], refused["code"]) == (400, "individual_number")
    assert MY_NUMBER not in json.dumps(refused, ensure_ascii=False)
    with schema_context(city.schema_name):
        assert not Reservation.objects.exists()


def test_validation_errors_name_their_fields(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    slot = _slot(city)
    missing_birth = problem(_post(city_client, key[1], _body(slot, persons=[{"name": "上尾 花子"}])))
    assert (missing_birth["status"], missing_birth["code"]) == (400, "validation_failed")
    assert set(missing_birth["errors"]) == {"persons.0.birth_date"}
    unknown = problem(_post(city_client, key[1], _body(slot, purpose="nothing")))
    assert set(unknown["errors"]) == {"purpose"}
    no_slot = problem(_post(city_client, key[1], _body(slot, slot=999_999_999)))
    assert set(no_slot["errors"]) == {"slot"}
    nobody = problem(_post(city_client, key[1], _body(slot, persons=[])))
    assert set(nobody["errors"]) == {"persons"}
    bad_email = problem(_post(city_client, key[1], _body(slot, email="not-an-address")))
    assert set(bad_email["errors"]) == {"email"}
    pickup = _body(slot, purpose="pickup", persons=[{"name": "上尾 花子", "birth_date": "1980-04-01"}])
    no_notice = problem(_post(city_client, key[1], pickup))
    assert set(no_notice["errors"]) == {"persons.0.notice_number"}
    pickup["persons"][0]["notice_number"] = "12"
    bad_notice = problem(_post(city_client, key[1], pickup))
    assert set(bad_notice["errors"]) == {"persons.0.notice_number"}
    with schema_context(city.schema_name):
        assert not Reservation.objects.exists()
        assert Slot.objects.get(pk=slot.pk).taken == 0


def test_a_pickup_stores_the_notice_number_in_its_usual_form(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    slot = _slot(city)
    person = {"name": "上尾 花子", "birth_date": "1980-04-01", "notice_number": "k7r204113"}
    body = _book(city, city_client, key[1], slot, purpose="pickup", persons=[person])
    assert body["purpose"] == "pickup"
    assert body["persons"][0]["notice_number"] == "K7R-204113"


def test_a_full_slot_is_a_409_problem_and_capacity_is_never_exceeded(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    slot = _slot(city, seats=2)
    two = [
        {"name": "上尾 花子", "birth_date": "1980-04-01"},
        {"name": "上尾 太郎", "birth_date": "1978-02-03"},
    ]
    _book(city, city_client, key[1], slot, persons=two)
    full = problem(
        _post(city_client, key[1], _body(slot, persons=[{"name": "桶川 一郎", "birth_date": "1990-01-01"}]))
    )
    assert (full["status"], full["code"]) == (409, "slot_full")
    assert "満席" in full["detail"]
    with schema_context(city.schema_name):
        assert Slot.objects.get(pk=slot.pk).taken == 2
        assert Reservation.objects.count() == 1


def test_the_same_idempotency_key_and_body_book_once_and_replay_the_answer(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    slot = _slot(city)
    first = _post(city_client, key[1], _body(slot), idempotency_key="call-2026-12-07-0001")
    again = _post(city_client, key[1], _body(slot), idempotency_key="call-2026-12-07-0001")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    other = problem(
        _post(city_client, key[1], _body(slot, phone="048-000-0000"), idempotency_key="call-2026-12-07-0001")
    )
    assert (other["status"], other["code"]) == (422, "idempotency_key_reused")
    with schema_context(city.schema_name):
        assert Reservation.objects.count() == 1
        assert Slot.objects.get(pk=slot.pk).taken == 1


# --- read, list --------------------------------------------------------------------------------------------------------


def test_find_by_code_as_residents_read_it_recorded_as_a_personal_data_view(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    code = _book(city, city_client, key[1], _slot(city))["code"]
    spoken = f"{code[:4].lower()}-{code[4:]}"
    response = city_client.get(f"{RESERVATIONS}{spoken}/", **bearer(key[1]))
    assert response.status_code == 200, response.content
    assert response.json()["code"] == code
    assert response.json()["persons"][0]["name"] == "上尾 花子"
    with schema_context(city.schema_name):
        viewed = AuditEvent.objects.filter(action="personal_data.viewed", actor_kind=ActorKind.API_KEY)
        assert viewed.count() == 1
    assert problem(city_client.get(f"{RESERVATIONS}NOSUCH22/", **bearer(key[1])))["code"] == "not_found"


def test_another_citys_key_finds_nothing(
    city: Municipality,
    other_city: Municipality,
    city_client: Client,
    other_city_client: Client,
    key: tuple[ApiKey, str],
) -> None:
    slot = _slot(city)
    code = _book(city, city_client, key[1], slot)["code"]
    _other_key, other_token = make_key(other_city, *ALL)
    # At its own city's host: no such code there, whatever the code; the list is empty; nothing can be changed.
    assert problem(other_city_client.get(f"{RESERVATIONS}{code}/", **bearer(other_token)))["status"] == 404
    listed = other_city_client.get(RESERVATIONS, **bearer(other_token))
    assert listed.status_code == 200
    assert listed.json()["results"] == []
    for action in ("cancel", "move"):
        refused = problem(
            _post(other_city_client, other_token, {"slot": slot.pk}, f"{RESERVATIONS}{code}/{action}/")
        )
        assert refused["status"] == 404
    frames = other_city_client.get(
        SLOTS, {"purpose": "application", "date": visit_day().isoformat()}, **bearer(other_token)
    )
    assert slot.pk not in [f["id"] for f in frames.json()]
    # At this city's host the other city's key is unknown.
    assert (
        problem(city_client.get(f"{RESERVATIONS}{code}/", **bearer(other_token)))["code"] == "api_key_unknown"
    )
    with schema_context(city.schema_name):
        assert Reservation.objects.get(code=code).status == Reservation.Status.BOOKED


def test_the_list_filters_and_pages_with_a_cursor(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    slots = [_slot(city, at=time(9 + i, 0)) for i in range(3)]
    codes = [
        _book(
            city, city_client, key[1], slot, persons=[{"name": f"上尾 {i}", "birth_date": f"198{i}-01-01"}]
        )["code"]
        for i, slot in enumerate(slots)
    ]
    day = visit_day().isoformat()
    seen: list[str] = []
    url: str | None = (
        f"{RESERVATIONS}?date_from={day}&date_to={day}&purpose=application&status=booked&limit=2"
    )
    while url:
        page = city_client.get(url, **bearer(key[1]))
        assert page.status_code == 200, page.content
        seen += [r["code"] for r in page.json()["results"]]
        url = page.json()["next"]
    assert seen == codes  # in the order of the visit
    with schema_context(city.schema_name):
        Reservation.objects.filter(code=codes[0]).update(status=Reservation.Status.CANCELLED)
    cancelled = city_client.get(RESERVATIONS, {"status": "cancelled"}, **bearer(key[1]))
    assert [r["code"] for r in cancelled.json()["results"]] == [codes[0]]
    other_purpose = city_client.get(RESERVATIONS, {"purpose": "pickup"}, **bearer(key[1]))
    assert other_purpose.json()["results"] == []
    newest_first = city_client.get(RESERVATIONS, {"ordering": "-created"}, **bearer(key[1]))
    assert [r["code"] for r in newest_first.json()["results"]] == codes[::-1]
    invalid = problem(
        city_client.get(RESERVATIONS, {"date_from": day, "date_to": "2000-01-01"}, **bearer(key[1]))
    )
    assert set(invalid["errors"]) == {"date_to"}
    bad_status = problem(city_client.get(RESERVATIONS, {"status": "lost"}, **bearer(key[1])))
    assert set(bad_status["errors"]) == {"status"}


# --- move, cancel -------------------------------------------------------------------------------------------------------


def test_move_to_another_time_audited_with_the_key(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    source, target = _slot(city, at=time(10, 0)), _slot(city, at=time(11, 0))
    code = _book(city, city_client, key[1], source)["code"]
    moved = _post(
        city_client, key[1], {"slot": target.pk}, f"{RESERVATIONS}{code}/move/", idempotency_key=None
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["slot"]["id"] == target.pk
    assert moved.json()["slot"]["start"].startswith(f"{visit_day().isoformat()}T11:00")
    with schema_context(city.schema_name):
        assert (Slot.objects.get(pk=source.pk).taken, Slot.objects.get(pk=target.pk).taken) == (0, 1)
        event = AuditEvent.objects.get(action="booking.reservation_moved")
        assert event.actor_kind == ActorKind.API_KEY
        assert event.summary == code
    same = problem(_post(city_client, key[1], {"slot": target.pk}, f"{RESERVATIONS}{code}/move/"))
    assert (same["status"], same["code"]) == (422, "booking_refused")
    nowhere = problem(_post(city_client, key[1], {"slot": 999_999_999}, f"{RESERVATIONS}{code}/move/"))
    assert set(nowhere["errors"]) == {"slot"}


def test_move_to_a_full_slot_is_refused(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    source, target = _slot(city, at=time(10, 0)), _slot(city, at=time(11, 0), seats=1)
    _book(city, city_client, key[1], target, persons=[{"name": "桶川 一郎", "birth_date": "1990-01-01"}])
    code = _book(city, city_client, key[1], source)["code"]
    full = problem(_post(city_client, key[1], {"slot": target.pk}, f"{RESERVATIONS}{code}/move/"))
    assert (full["status"], full["code"]) == (409, "slot_full")
    with schema_context(city.schema_name):
        assert Reservation.objects.get(code=code).slot_id == source.pk


def test_cancel_gives_the_seats_back_audited_with_the_key(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    slot = _slot(city)
    code = _book(city, city_client, key[1], slot)["code"]
    cancelled = _post(city_client, key[1], {}, f"{RESERVATIONS}{code}/cancel/")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancelled_at"]
    again = _post(city_client, key[1], {}, f"{RESERVATIONS}{code}/cancel/", idempotency_key=None)
    assert (again.status_code, again.json()["status"]) == (200, "cancelled")
    with schema_context(city.schema_name):
        assert Slot.objects.get(pk=slot.pk).taken == 0
        event = AuditEvent.objects.get(action="booking.reservation_cancelled")
        assert (event.actor_kind, event.summary) == (ActorKind.API_KEY, code)
        Reservation.objects.filter(code=code).update(status=Reservation.Status.DONE)
    done = problem(_post(city_client, key[1], {}, f"{RESERVATIONS}{code}/cancel/"))
    assert (done["status"], done["code"]) == (422, "booking_refused")
    reads_only = make_key(city, ApiScope.RESERVATIONS_READ)[1]
    assert (
        problem(_post(city_client, reads_only, {}, f"{RESERVATIONS}{code}/cancel/"))["code"]
        == "scope_missing"
    )


def test_the_schema_documents_the_reservation_operations(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    schema = city_client.get("/api/v1/schema/", {"format": "json"}, **bearer(key[1]))
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    create = paths["/api/v1/reservations/"]["post"]
    assert {"201", "400", "401", "403", "409", "422", "429"} <= set(create["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in create["parameters"])
    assert {"/api/v1/slots/", "/api/v1/reservations/{code}/", "/api/v1/reservations/{code}/move/"} <= set(
        paths
    )


def test_times_are_answered_in_japan_time(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    slot = _slot(city, at=time(9, 30))
    body = _book(city, city_client, key[1], slot)
    local = slot.start.astimezone(TOKYO)
    assert body["slot"]["start"] == local.isoformat()
    with schema_context(city.schema_name):
        assert Purpose.objects.get(code="application").reservations.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        {"slot": 2**70, "purpose": "application", "persons": [{"name": "x", "birth_date": "1980-01-01"}]},
        {"slot": "x", "purpose": "application", "persons": "everyone"},
        {"slot": 1, "purpose": "application", "persons": [None, 3]},
        {"slot": 1, "purpose": "application\x00", "persons": [{"name": "x\x00", "birth_date": "1980-13-40"}]},
    ],
)
def test_odd_bodies_are_400_problems_never_500(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str], body: Any
) -> None:
    refused = problem(_post(city_client, key[1], body))
    assert refused["status"] == 400
    with schema_context(city.schema_name):
        assert not Reservation.objects.exists()


def test_a_page_of_the_list_costs_the_same_queries_however_many_it_holds(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert city_client.get(RESERVATIONS, **bearer(key[1])).status_code == 200
        return len(captured.captured_queries)

    _book(city, city_client, key[1], _slot(city, at=time(9, 0)))
    one = queries()
    for hour in (10, 11, 12):
        persons = [
            {"name": f"上尾 {hour}", "birth_date": "1970-01-01"},
            {"name": f"桶川 {hour}", "birth_date": "1971-01-01"},
        ]
        _book(city, city_client, key[1], _slot(city, at=time(hour, 0)), persons=persons)
    assert queries() == one


def test_the_registered_notice_check_decides_a_pickup(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    """The hook issuance plugs its card check into (hooks.register_notice_checker) is asked as for every booking."""
    asked: list[hooks.NoticeCheck] = []

    def checker(check: hooks.NoticeCheck) -> str | None:
        asked.append(check)
        return None if check.notice_number == "K7R-204113" else "番号と生年月日を確認できませんでした。"

    slot = _slot(city)
    hooks.register_notice_checker(checker)
    try:
        person = {"name": "上尾 花子", "birth_date": "1980-04-01", "notice_number": "A1B-123456"}
        refused = problem(_post(city_client, key[1], _body(slot, purpose="pickup", persons=[person])))
        assert (refused["status"], refused["code"]) == (422, "notice_refused")
        assert refused["detail"] == "番号と生年月日を確認できませんでした。"
        person["notice_number"] = "K7R-204113"
        _book(city, city_client, key[1], slot, purpose="pickup", persons=[person])
    finally:
        hooks.unregister_notice_checker(checker)
    assert [(c.notice_number, c.purpose_code) for c in asked] == [
        ("A1B-123456", "pickup"),
        ("K7R-204113", "pickup"),
    ]
    with schema_context(city.schema_name):
        assert Slot.objects.get(pk=slot.pk).taken == 1
