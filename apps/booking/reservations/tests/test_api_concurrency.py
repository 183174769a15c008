"""The API under contention (issue 13, item 5): 100 POSTs for a 3-seat slot from 20 threads at once, each request on
its own connection with its own Idempotency-Key, give exactly 3 bookings and 97 clear refusals (409 slot_full, never
a 500); one Idempotency-Key sent by 10 requests at once books once (the others get 409 in progress or the replay).

Through the whole stack (test client: middleware, API key, rate limit, view, services) on committed data in a city
made for this module (the other connections must see it), dropped afterwards. Bounded: every thread is joined with
a timeout and the test fails if one is still running.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import CounterGroup, Reservation, Slot
from apps.security.models import AllowedNetwork, ApiScope
from apps.security.tests.api_helpers import make_key
from tenants.db import use_public_schema
from tenants.services import MunicipalityInput, municipality_create
from tests.factories import SlotFactory

HOST = "apirush.localhost"
THREADS = 20
PER_THREAD = 5  # 100 POSTs in all: 20 connections at once stay well inside the server's max_connections
DUPLICATES = 10
JOIN_SECONDS = 120
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rush(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    with django_db_blocker.unblock():
        city = municipality_create(
            data=MunicipalityInput(
                slug="apirush",
                lg_code="119997",
                name_ja="接続試験市",
                name_en="API Rush",
                prefecture="埼玉県",
            ),
            domains=[HOST],
        )
        with schema_context("apirush"):
            for cidr in ("127.0.0.0/8", "::1/128"):
                AllowedNetwork.objects.create(cidr=cidr, label="loopback")
            group = CounterGroup.objects.get()
            day = timezone.now().astimezone(TOKYO).date() + timedelta(days=5)
            while day.weekday() >= 5:
                day += timedelta(days=1)
            contested = SlotFactory.create(
                counter_group=group, start=datetime.combine(day, time(10, 0), TOKYO), seats=3
            )
            roomy = SlotFactory.create(
                counter_group=group, start=datetime.combine(day, time(11, 0), TOKYO), seats=20
            )
        _key, token = make_key(city, ApiScope.RESERVATIONS_WRITE, name="コールセンター")
        # Load the process's host map with the new city before the threads start: a map loaded by earlier tests is
        # otherwise reloaded by the first thread while the others may still read the old one for a moment.
        assert Client(HTTP_HOST=HOST).get("/api/v1/purposes/").status_code == 401
        yield {"contested": contested.pk, "roomy": roomy.pk, "token": token}
        use_public_schema()
        city.delete(force_drop=True)


def _body(slot_id: int, index: int) -> str:
    birth = date(1950, 1, 1) + timedelta(days=index * 37)
    person = {"name": f"接続 住民{index}", "birth_date": birth.isoformat()}
    return json.dumps(
        {"slot": slot_id, "purpose": "application", "persons": [person], "phone": "090-0000-0000"}
    )


def _post(client: Client, token: str, body: str, idempotency_key: str) -> tuple[int, dict[str, Any], str]:
    response = client.post(
        "/api/v1/reservations/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_IDEMPOTENCY_KEY=idempotency_key,
    )
    try:
        data = json.loads(response.content)
    except ValueError:
        data = {"raw": response.content[:200].decode("utf-8", "replace")}
    return response.status_code, data, str(response.get("Idempotent-Replayed", ""))


def _run(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_SECONDS)
    assert not [t for t in threads if t.is_alive()], "a request hung"


def test_a_hundred_parallel_posts_for_three_seats_book_exactly_three(
    rush: dict[str, Any], django_db_blocker: Any
) -> None:
    outcomes: list[tuple[int, dict[str, Any], str]] = []
    barrier = threading.Barrier(THREADS)

    def worker(thread_index: int) -> None:
        try:
            client = Client(HTTP_HOST=HOST)
            barrier.wait(timeout=JOIN_SECONDS)
            for n in range(PER_THREAD):
                index = thread_index * PER_THREAD + n
                outcomes.append(
                    _post(client, rush["token"], _body(rush["contested"], index), str(uuid.uuid4()))
                )
        except Exception as exc:  # any other failure is what the test must show
            outcomes.append((0, {"error": repr(exc)}, ""))
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        _run([threading.Thread(target=worker, args=(i,)) for i in range(THREADS)])
        statuses = sorted(status for status, _data, _replayed in outcomes)
        assert len(outcomes) == THREADS * PER_THREAD
        assert statuses.count(201) == 3, outcomes
        refusals = [data for status, data, _replayed in outcomes if status != 201]
        assert len(refusals) == 97
        assert {(data.get("status"), data.get("code")) for data in refusals} == {(409, "slot_full")}, refusals
        assert all("満席" in data["detail"] for data in refusals)
        booked = {data["code"] for status, data, _replayed in outcomes if status == 201}
        with schema_context("apirush"):
            slot = Slot.objects.get(pk=rush["contested"])
            assert (slot.taken, slot.seats) == (3, 3)
            assert set(Reservation.objects.filter(slot=slot).values_list("code", flat=True)) == booked
    assert connection.vendor == "postgresql"


def test_one_idempotency_key_sent_ten_times_at_once_books_once(
    rush: dict[str, Any], django_db_blocker: Any
) -> None:
    outcomes: list[tuple[int, dict[str, Any], str]] = []
    barrier = threading.Barrier(DUPLICATES)
    body = _body(rush["roomy"], 10_000)
    idempotency_key = f"retry-{uuid.uuid4()}"

    def worker() -> None:
        try:
            client = Client(HTTP_HOST=HOST)
            barrier.wait(timeout=JOIN_SECONDS)
            outcomes.append(_post(client, rush["token"], body, idempotency_key))
        except Exception as exc:  # any other failure is what the test must show
            outcomes.append((0, {"error": repr(exc)}, ""))
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        _run([threading.Thread(target=worker) for _ in range(DUPLICATES)])
        assert len(outcomes) == DUPLICATES
        assert {status for status, _data, _replayed in outcomes} <= {201, 409}, outcomes
        created = [(data, replayed) for status, data, replayed in outcomes if status == 201]
        assert [replayed for _data, replayed in created].count("") == 1  # one ran, the rest were replays
        assert len({data["code"] for data, _replayed in created}) == 1
        assert {data["code"] for status, data, _replayed in outcomes if status == 409} <= {
            "idempotency_in_progress"
        }
        # Once the first is over, the same request is the replay of its answer.
        client = Client(HTTP_HOST=HOST)
        status, data, replayed = _post(client, rush["token"], body, idempotency_key)
        assert (status, replayed, data["code"]) == (201, "true", created[0][0]["code"])
        connections.close_all()
        with schema_context("apirush"):
            assert Reservation.objects.filter(slot_id=rush["roomy"]).count() == 1
            assert Slot.objects.get(pk=rush["roomy"]).taken == 1
