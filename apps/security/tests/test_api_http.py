"""The REST API over HTTP (issue 13): purposes and availability with a key, problem details for every error, the
rate limit's headers, ETag / If-None-Match, and the OpenAPI schema in Japanese and English."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.calendar.availability import month_availability
from apps.booking.calendar.services import settings_ensure
from apps.booking.models import Purpose
from apps.security.models import ApiKey, ApiScope
from apps.security.tests.api_helpers import bearer, make_key, problem
from tenants.models import Municipality
from tests.factories import SlotFactory, supervisor_user, visit_day

PURPOSES = "/api/v1/purposes/"
AVAILABILITY = "/api/v1/availability/"


@pytest.fixture
def key(city: Municipality) -> tuple[ApiKey, str]:
    return make_key(city)


def test_a_key_reads_its_citys_purposes(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    response = city_client.get(PURPOSES, **bearer(key[1]))
    assert response.status_code == 200, response.content
    body = response.json()
    with schema_context(city.schema_name):
        assert [p["code"] for p in body] == [p.code for p in Purpose.objects.filter(active=True)]
    assert {"code", "name_ja", "name_en", "counter_group", "seats_per_person"} <= set(body[0])
    assert response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]


def test_availability_is_the_month_pages_availability(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    day = visit_day()
    with schema_context(city.schema_name):
        SlotFactory.create(day=day)
        purpose = Purpose.objects.get(code="application")
        expected = {
            d.day.isoformat(): (d.status, d.persons_free)
            for d in month_availability(
                purpose=purpose,
                year=day.year,
                month=day.month,
                settings=settings_ensure(),
                now=timezone.now(),
            )
        }
    first, last = day - timedelta(days=2), day + timedelta(days=40)
    response = city_client.get(
        AVAILABILITY,
        {"purpose": "application", "from": first.isoformat(), "to": last.isoformat()},
        **bearer(key[1]),
    )
    assert response.status_code == 200, response.content
    days = response.json()["days"]
    assert days[0]["date"] == first.isoformat()
    assert days[-1]["date"] == last.isoformat()
    assert len(days) == 43
    shown = {d["date"]: (d["status"], d["persons_free"]) for d in days}
    for date_text, value in expected.items():
        if date_text in shown:
            assert shown[date_text] == value
    assert shown[day.isoformat()][1] >= 1


def test_etag_and_if_none_match(city_client: Client, key: tuple[ApiKey, str]) -> None:
    today = timezone.localdate()
    query = {
        "purpose": "application",
        "from": today.isoformat(),
        "to": (today + timedelta(days=7)).isoformat(),
    }
    first = city_client.get(AVAILABILITY, query, **bearer(key[1]))
    etag = first["ETag"]
    assert etag.startswith('"')
    again = city_client.get(AVAILABILITY, query, HTTP_IF_NONE_MATCH=etag, **bearer(key[1]))
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    other = city_client.get(AVAILABILITY, query, HTTP_IF_NONE_MATCH='"something-else"', **bearer(key[1]))
    assert other.status_code == 200
    purposes = city_client.get(PURPOSES, **bearer(key[1]))
    assert city_client.get(PURPOSES, HTTP_IF_NONE_MATCH=purposes["ETag"], **bearer(key[1])).status_code == 304


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"purpose": "application", "from": "2026-13-01", "to": "2026-12-31"}, "from"),
        ({"purpose": "application", "from": "2026-12-10", "to": "2026-12-01"}, "to"),
        ({"purpose": "application", "from": "2026-01-01", "to": "2026-12-31"}, "to"),
        ({"from": "2026-12-01", "to": "2026-12-31"}, "purpose"),
    ],
)
def test_validation_errors_are_problems_with_fields(
    city_client: Client, key: tuple[ApiKey, str], query: dict[str, str], field: str
) -> None:
    response = city_client.get(AVAILABILITY, query, **bearer(key[1]))
    assert response.status_code == 400
    body = problem(response)
    assert body["code"] == "validation_failed"
    assert field in body["errors"]


def test_an_unknown_purpose_is_a_404_problem(city_client: Client, key: tuple[ApiKey, str]) -> None:
    response = city_client.get(
        AVAILABILITY, {"purpose": "nothing", "from": "2026-12-01", "to": "2026-12-02"}, **bearer(key[1])
    )
    assert response.status_code == 404
    assert problem(response)["code"] == "not_found"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "api_key_missing"),
        ("Basic dXNlcjpwYXNz", "api_key_malformed"),
        ("Bearer nonsense", "api_key_malformed"),
        ("Bearer mdg_abcdefgh_" + "A" * 43, "api_key_unknown"),
    ],
)
def test_refused_tokens_are_401_problems_with_their_code(
    city_client: Client, key: tuple[ApiKey, str], header: str | None, code: str
) -> None:
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = city_client.get(PURPOSES, **extra)
    assert response.status_code == 401
    assert problem(response)["code"] == code
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_revoked_and_expired_keys(city: Municipality, city_client: Client) -> None:
    revoked, revoked_token = make_key(city, name="revoked")
    expired, expired_token = make_key(city, name="expired")
    with schema_context(city.schema_name):
        ApiKey.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
        ApiKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert problem(city_client.get(PURPOSES, **bearer(revoked_token)))["code"] == "api_key_revoked"
    assert problem(city_client.get(PURPOSES, **bearer(expired_token)))["code"] == "api_key_expired"


def test_a_key_without_the_scope_is_refused(city: Municipality, city_client: Client) -> None:
    _key, token = make_key(city, ApiScope.RESERVATIONS_READ)
    response = city_client.get(PURPOSES, **bearer(token))
    assert response.status_code == 403
    body = problem(response)
    assert body["code"] == "scope_missing"
    assert "slots:read" in body["detail"]


def test_details_follow_accept_language(city_client: Client, key: tuple[ApiKey, str]) -> None:
    ja = problem(city_client.get(PURPOSES))
    en = problem(city_client.get(PURPOSES, HTTP_ACCEPT_LANGUAGE="en"))
    assert ja["code"] == en["code"] == "api_key_missing"
    assert ja["title"] == "APIキーがありません"
    assert en["title"] == "API key missing"
    assert "Authorization" in en["detail"]
    assert "ヘッダー" not in en["detail"]


def test_unknown_paths_and_methods(city_client: Client, key: tuple[ApiKey, str]) -> None:
    missing = city_client.get("/api/v1/nothing-here/", **bearer(key[1]))
    assert missing.status_code == 404
    assert problem(missing)["code"] == "not_found"
    assert problem(city_client.delete("/api/v2/", **bearer(key[1])))["code"] == "not_found"
    # Without a key no path is told apart from another.
    assert problem(city_client.get("/api/v1/nothing-here/"))["code"] == "api_key_missing"
    wrong = city_client.post(PURPOSES, data="{}", content_type="application/json", **bearer(key[1]))
    assert wrong.status_code == 405
    assert problem(wrong)["code"] == "method_not_allowed"


def test_no_session_authentication_under_the_api(city: Municipality) -> None:
    # A signed-in supervisor's session cookie is no key.
    from tests.factories import login_as

    with schema_context(city.schema_name):
        user = supervisor_user()
    client = login_as(Client(HTTP_HOST="ageo.localhost"), user, city.schema_name)
    response = client.get(PURPOSES)
    assert response.status_code in (302, 401)  # the staff second-factor gate, or the API's own refusal
    if response.status_code == 401:
        assert problem(response)["code"] == "api_key_missing"


@override_settings(
    REST_FRAMEWORK={
        **__import__("django.conf").conf.settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "3/min"},
    }
)
def test_the_rate_limit_per_key(city: Municipality, city_client: Client) -> None:
    _key, token = make_key(city)
    _other, other_token = make_key(city, name="other")
    for remaining in (2, 1, 0):
        ok = city_client.get(PURPOSES, **bearer(token))
        assert ok.status_code == 200
        assert ok["RateLimit-Policy"] == '"api_key";q=3;w=60'
        assert ok["RateLimit"].startswith(f'"api_key";r={remaining};t=')
    over = city_client.get(PURPOSES, **bearer(token))
    assert over.status_code == 429
    assert problem(over)["code"] == "rate_limited"
    assert 1 <= int(over["Retry-After"]) <= 60
    assert over["RateLimit"].startswith('"api_key";r=0;')
    # Another key of the same city has its own count.
    assert city_client.get(PURPOSES, **bearer(other_token)).status_code == 200


def test_the_rate_limit_fails_closed(city: Municipality, city_client: Client, monkeypatch: Any) -> None:
    from apps.security import api_auth
    from apps.security.counters import OVER_EVERY_LIMIT, Hit

    _key, token = make_key(city)
    monkeypatch.setattr(
        api_auth, "counter_hit", lambda *a, **k: Hit(count=OVER_EVERY_LIMIT, retry_after=60, failed=True)
    )
    # The counter store is the database: refused as "the database is away for a moment", retried in seconds.
    client = Client(HTTP_HOST=city_client.defaults["HTTP_HOST"], raise_request_exception=False)
    answer = client.get(PURPOSES, **bearer(token))
    assert answer.status_code == 503
    assert problem(answer)["code"] == "database_unavailable"
    assert int(answer["Retry-After"]) <= 10


def test_the_schema_in_japanese_and_english(city_client: Client, key: tuple[ApiKey, str]) -> None:
    assert city_client.get("/api/v1/schema/").status_code == 200  # no key needed (tests/api/test_docs.py)
    ja = city_client.get("/api/v1/schema/", {"format": "json"}, **bearer(key[1]))
    assert ja.status_code == 200, ja.content
    schema = ja.json()
    assert schema["openapi"].startswith("3.1")
    assert "/api/v1/availability/" in schema["paths"]
    operation = schema["paths"]["/api/v1/availability/"]["get"]
    assert operation["summary"] == "空き状況"
    assert {"200", "400", "401", "403", "404", "429"} <= set(operation["responses"])
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    en = city_client.get("/api/v1/schema/", {"format": "json", "lang": "en"}, **bearer(key[1]))
    assert en.status_code == 200


def test_an_individual_number_in_a_body_is_refused_before_anything_else(
    city_client: Client, key: tuple[ApiKey, str]
) -> None:
    body = {"persons": [{"note": "番号 123456789018 です"}], "ok": "text"}
    response = city_client.post(
        PURPOSES, data=json.dumps(body), content_type="application/json", **bearer(key[1])
    )
    assert response.status_code == 400
    refused = problem(response)
    assert refused["code"] == "individual_number"
    assert list(refused["errors"]) == ["persons"]
    assert "123456789018" not in response.content.decode()


def test_a_body_that_is_not_json_is_a_problem(city_client: Client, key: tuple[ApiKey, str]) -> None:
    response = city_client.post(PURPOSES, data="{not json", content_type="application/json", **bearer(key[1]))
    assert response.status_code == 400
    assert problem(response)["code"] == "parse_error"
