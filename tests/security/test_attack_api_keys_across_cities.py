"""Issue 13: an API key is one city's, and the city's allowed networks apply to it.

The attacks: a key of ageo sent to okegawa's host (a leaked key tried at every city, or a vendor tool pointed at the
wrong host); a key used from outside the city's networks; a flood with one key meant to use up another city's (or
another key's) rate limit. A key of ageo is an unknown prefix at okegawa (401 `api_key_unknown`, nothing recorded
there); outside the networks the API answers 403 before any key is looked at; counts are per key and per city.
"""

from __future__ import annotations

import json

from django.test import Client, override_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.security.actors import as_actor
from apps.security.api_keys import api_key_create
from apps.security.audit_models import AuditEvent
from apps.security.counters import counter_peek
from apps.security.models import ApiKey, ApiScope
from conftest import OUTSIDE_ADDRESS, host_of
from tenants.models import Municipality
from tests.factories import supervisor_user

PURPOSES = "/api/v1/purposes/"


def _key(city: Municipality) -> tuple[ApiKey, str]:
    with schema_context(city.schema_name):
        issued = api_key_create(
            name="連携", scopes=[ApiScope.SLOTS_READ], expires_at=None, actor=as_actor(supervisor_user())
        )
    return issued.key, issued.token


def _bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_a_key_of_ageo_reads_ageo_and_is_refused_at_okegawa(
    city: Municipality, other_city: Municipality, city_client: Client, other_city_client: Client
) -> None:
    key, token = _key(city)
    assert city_client.get(PURPOSES, **_bearer(token)).status_code == 200
    today = timezone.localdate().isoformat()
    availability = city_client.get(
        "/api/v1/availability/", {"purpose": "application", "from": today, "to": today}, **_bearer(token)
    )
    assert availability.status_code == 200
    refused = other_city_client.get(PURPOSES, **_bearer(token))
    assert refused.status_code == 401
    assert refused["Content-Type"] == "application/problem+json"
    assert json.loads(refused.content)["code"] == "api_key_unknown"
    with schema_context(other_city.schema_name):
        assert not ApiKey.objects.exists()
        assert not AuditEvent.objects.filter(action__startswith="api_key.").exists()
        # okegawa never counted ageo's key.
        assert counter_peek(f"api:rate:{key.prefix}", fail_closed=False).count == 0
    with schema_context(city.schema_name):
        assert counter_peek(f"api:rate:{key.prefix}", fail_closed=False).count == 2


@override_settings(
    REST_FRAMEWORK={
        **__import__("django.conf").conf.settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "2/min"},
    }
)
def test_one_citys_flood_never_limits_another(
    city: Municipality, other_city: Municipality, city_client: Client, other_city_client: Client
) -> None:
    _ageo, ageo_token = _key(city)
    _okegawa, okegawa_token = _key(other_city)
    statuses = [city_client.get(PURPOSES, **_bearer(ageo_token)).status_code for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    assert other_city_client.get(PURPOSES, **_bearer(okegawa_token)).status_code == 200


def test_outside_the_networks_a_key_is_refused(city: Municipality) -> None:
    _key_row, token = _key(city)
    outside = Client(HTTP_HOST=host_of(city), REMOTE_ADDR=OUTSIDE_ADDRESS)
    response = outside.get(PURPOSES, **_bearer(token))
    assert response.status_code == 403
    with schema_context(city.schema_name):
        assert ApiKey.objects.get().last_used_at is None  # refused before the key was looked at


def test_outside_the_networks_the_refusal_is_a_problem(city: Municipality) -> None:
    _key_row, token = _key(city)
    outside = Client(HTTP_HOST=host_of(city), REMOTE_ADDR=OUTSIDE_ADDRESS)
    response = outside.get(PURPOSES, **_bearer(token))
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert json.loads(response.content)["code"] == "network_refused"


def test_an_individual_number_in_a_parameter_is_a_problem(city: Municipality, city_client: Client) -> None:
    _key_row, token = _key(city)
    response = city_client.get(PURPOSES, {"note": "123456789018"}, **_bearer(token))
    assert response.status_code == 400
    assert json.loads(response.content)["code"] == "individual_number"


def test_an_individual_number_in_a_parameter_is_refused(city: Municipality, city_client: Client) -> None:
    _key_row, token = _key(city)
    response = city_client.get(PURPOSES, {"note": "123456789018"}, **_bearer(token))
    assert response.status_code == 400
    assert b"123456789018" not in response.content
