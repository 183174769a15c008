"""Helpers of the REST API's tests in every feature package: a key of a city, its Authorization header, and the
checks every problem+json answer must pass."""

from __future__ import annotations

import json
from typing import Any

from django_tenants.utils import schema_context

from apps.security.actors import as_actor
from apps.security.api_keys import api_key_create
from apps.security.models import ApiKey, ApiScope
from tenants.models import Municipality
from tests.factories import supervisor_user


def make_key(city: Municipality, *scopes: str, name: str = "住民記録システム") -> tuple[ApiKey, str]:
    with schema_context(city.schema_name):
        issued = api_key_create(
            name=name,
            scopes=scopes or (ApiScope.SLOTS_READ,),
            expires_at=None,
            actor=as_actor(supervisor_user()),
        )
    return issued.key, issued.token


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def problem(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/problem+json", response.content
    body: dict[str, Any] = json.loads(response.content)
    assert body["status"] == response.status_code
    assert body["type"] == f"urn:madoguchi:problem:{body['code']}"
    assert body["title"]
    assert body["detail"]
    return body
