"""The Idempotency-Key protocol of the API's POSTs (apps.security.api_idempotency), on a view of its own: one run per
(API key, key) for 24 hours, the first answer replayed, another body refused, a running duplicate refused, nothing
kept when the view fails."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from apps.security.api_auth import ApiView
from apps.security.api_idempotency import (
    IDEMPOTENCY_LOCK,
    PURGE_TASK,
    idempotency_keys_purge,
    idempotent,
    purge_expired_idempotency_keys_everywhere,
)
from apps.security.models import AllowedNetwork, ApiIdempotency, ApiKey, ApiScope
from apps.security.tests.api_helpers import make_key
from tenants.models import Municipality

PATH = "/api/v1/test-echo/"


class Echo(ApiView):
    """Writes one row per run (so a test sees how often it ran) and answers as the body asks."""

    required_scopes = (ApiScope.RESERVATIONS_WRITE,)

    @idempotent()
    def post(self, request: Request) -> Response:
        AllowedNetwork.objects.create(
            cidr=f"192.0.2.{_runs() + 1}/32", label=f"run {request.data.get('label', '')}"
        )
        answer = int(request.data.get("answer", 201))
        if answer == 500:
            raise RuntimeError("the view failed")
        if answer == 400:
            raise exceptions.ValidationError({"label": ["not this one"]})
        return Response({"runs": _runs()}, status=answer, headers={"Location": "https://x.example/1"})


def _runs() -> int:
    return AllowedNetwork.objects.filter(label__startswith="run ").count()


@pytest.fixture
def token(in_city: Municipality) -> str:
    _key, token = make_key(in_city, ApiScope.RESERVATIONS_WRITE)
    return token


def _call(token: str, body: dict[str, Any], idempotency_key: str | None) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}", "REMOTE_ADDR": "127.0.0.1"}
    if idempotency_key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
    request = RequestFactory().post(PATH, json.dumps(body), content_type="application/json", **headers)
    response = Echo.as_view()(request)
    response.render()
    return response


def _body(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(response.content)
    return data


def test_the_same_key_and_body_run_once_and_replay_the_first_answer(token: str) -> None:
    first = _call(token, {"label": "a", "answer": 201}, "k-1")
    # Key order and spacing of the JSON do not make another request.
    again = _call(token, {"answer": 201, "label": "a"}, "k-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert _body(again) == _body(first) == {"runs": 1}
    assert again["Location"] == "https://x.example/1"
    assert again["Idempotent-Replayed"] == "true"
    assert _runs() == 1
    assert ApiIdempotency.objects.get().status == 201


def test_the_same_key_with_another_body_is_422(token: str) -> None:
    _call(token, {"label": "a"}, "k-1")
    other = _call(token, {"label": "b"}, "k-1")
    assert other.status_code == 422
    assert _body(other)["code"] == "idempotency_key_reused"
    assert other["Content-Type"] == "application/problem+json"
    assert _runs() == 1


def test_a_missing_or_overlong_key_is_a_400_and_nothing_runs(token: str) -> None:
    assert _body(_call(token, {}, None))["code"] == "idempotency_key_missing"
    assert _body(_call(token, {}, "   "))["code"] == "idempotency_key_missing"
    assert _body(_call(token, {}, "k" * 256))["code"] == "idempotency_key_invalid"
    assert _call(token, {}, "k" * 255).status_code == 201
    assert _runs() == 1


def test_a_key_holding_an_individual_number_is_refused_and_not_stored(token: str) -> None:
    refused = _call(token, {}, "order-123456789018")
    assert _body(refused)["code"] == "individual_number"
    assert "123456789018" not in refused.content.decode()
    assert _runs() == 0
    assert not ApiIdempotency.objects.filter(idempotency_key__contains="123456789018").exists()


def test_a_quoted_key_is_the_same_key(token: str) -> None:
    _call(token, {}, "k-1")
    assert _call(token, {}, '"k-1"')["Idempotent-Replayed"] == "true"
    assert _runs() == 1


def test_keys_are_per_api_key(in_city: Municipality, token: str) -> None:
    _key, other_token = make_key(in_city, ApiScope.RESERVATIONS_WRITE)
    _call(token, {"label": "a"}, "shared")
    theirs = _call(other_token, {"label": "a"}, "shared")
    assert theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs
    assert _runs() == 2


def test_a_refusal_is_stored_and_replayed_too(token: str) -> None:
    refused = _call(token, {"answer": 400}, "k-1")
    assert refused.status_code == 400
    assert _body(refused)["code"] == "validation_failed"
    again = _call(token, {"answer": 400}, "k-1")
    assert (again.status_code, again["Idempotent-Replayed"]) == (400, "true")
    assert again["Content-Type"] == "application/problem+json"
    assert _body(again) == _body(refused)


def test_a_failing_view_keeps_nothing_and_a_retry_runs_again(token: str) -> None:
    with pytest.raises(RuntimeError):
        _call(token, {"answer": 500}, "k-1")
    assert not ApiIdempotency.objects.exists()
    assert _runs() == 0  # the view's own write was rolled back with it
    retried = _call(token, {"answer": 201}, "k-1")  # another body: the failed one left no trace
    assert retried.status_code == 201
    assert _runs() == 1


def test_a_duplicate_while_the_first_still_runs_is_409(in_city: Municipality, token: str) -> None:
    key = ApiKey.objects.get()
    settings = connection.settings_dict
    # Another connection holds the lock a running first request holds.
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None,
        autocommit=True,
    ) as other:
        other.execute(
            "SELECT pg_advisory_lock(%s, hashtext(%s))",
            [IDEMPOTENCY_LOCK, f"{in_city.schema_name}:{key.pk}:k-1"],
        )
        running = _call(token, {}, "k-1")
        assert running.status_code == 409
        assert _body(running)["code"] == "idempotency_in_progress"
        assert running["Retry-After"] == "1"
        assert _call(token, {}, "k-2").status_code == 201  # another key is not held up
    assert _call(token, {}, "k-1").status_code == 201  # once the first is over
    assert _runs() == 2


def test_after_24_hours_a_key_may_be_used_again_and_old_answers_are_purged(token: str) -> None:
    _call(token, {"label": "a"}, "k-1")
    ApiIdempotency.objects.update(created_at=timezone.now() - timedelta(hours=25))
    fresh = _call(token, {"label": "b"}, "k-1")
    assert fresh.status_code == 201
    assert "Idempotent-Replayed" not in fresh
    assert _runs() == 2
    _call(token, {"label": "c"}, "k-2")
    ApiIdempotency.objects.filter(idempotency_key="k-2").update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    assert idempotency_keys_purge(now=timezone.now()) == 1
    assert list(ApiIdempotency.objects.values_list("idempotency_key", flat=True)) == ["k-1"]
    assert purge_expired_idempotency_keys_everywhere.name == PURGE_TASK
