"""The API under contention on the wire (issue 13, item 5): 100 POSTs at once for a 3-seat slot give exactly 3
bookings and 97 clear refusals (409 slot_full, never a 500); one Idempotency-Key sent by 10 requests at once books
once (the others get the replay or 409 in progress).

Through a real server (the fixture `server` of tests/api/conftest.py: gunicorn, 2 workers × 8 threads, on a city of
its own): each request is its own thread with its own TCP connection (http.client), all connected first and released
together by a barrier, so 100 requests are on the wire at once and the server runs 16 of them at a time (the rest
wait in its queue, as in production). Bounded: HTTP timeouts, every thread joined with a timeout.

The city exists before the server starts, so its processes load their host maps with it on their first request
(the in-process test client of the test this replaces had to load the map before its threads started: a map
reloaded by one thread could be read stale by the others for a moment, see tenants/routing.py).
"""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.db.models import Sum
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import CounterGroup, Purpose, Reservation, Slot
from apps.security.models import ApiScope
from base.problems import CONTENT_TYPE as PROBLEM_CONTENT_TYPE
from tests.api.conftest import HOST, SLUG, Server, server_key
from tests.factories import SlotFactory

pytestmark = pytest.mark.slow

POSTS = 100
SEATS = 3
DUPLICATES = 10
TIMEOUT = 120  # seconds: the barrier, each HTTP exchange, each join
PURPOSE = "application"


@dataclass(frozen=True)
class Answer:
    status: int  # 0: the request failed on the client's side (see body["error"])
    content_type: str
    body: dict[str, Any]
    replayed: str


@dataclass
class Slots:
    contested: int
    roomy: int
    token: str


@pytest.fixture(scope="module")
def slots(server: Server, django_db_blocker: Any) -> Slots:
    token = server_key(server, django_db_blocker, "parallel", ApiScope.RESERVATIONS_WRITE)
    with django_db_blocker.unblock(), schema_context(SLUG):
        # One seat a person: exactly SEATS persons fit. An API booking is a phone booking, which may use the seats
        # kept for staff, so one of the three is a staff seat and still counts.
        assert Purpose.objects.get(code=PURPOSE).seats_per_person == 1
        group = CounterGroup.objects.get()
        day = timezone.now().astimezone(TOKYO).date() + timedelta(days=5)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        contested = SlotFactory.create(
            counter_group=group, start=datetime.combine(day, time(10, 0), TOKYO), seats=SEATS, staff_seats=1
        )
        roomy = SlotFactory.create(
            counter_group=group, start=datetime.combine(day, time(11, 0), TOKYO), seats=20
        )
        assert (contested.taken, roomy.taken) == (0, 0)
    return Slots(contested=contested.pk, roomy=roomy.pk, token=token)


def _body(slot_id: int, index: int) -> str:
    birth = date(1950, 1, 1) + timedelta(days=index * 37)
    person = {"name": f"並行 住民{index}", "birth_date": birth.isoformat()}
    return json.dumps(
        {"slot": slot_id, "purpose": PURPOSE, "persons": [person], "phone": "090-0000-0000"},
        ensure_ascii=False,
    )


def _send_together(server: Server, token: str, requests: list[tuple[str, str]]) -> list[Answer]:
    """Each (body, Idempotency-Key) from its own thread on its own TCP connection, all released at once."""
    answers: list[Answer] = []
    barrier = threading.Barrier(len(requests))

    def worker(body: str, idempotency_key: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
        try:
            conn.connect()
            barrier.wait(timeout=TIMEOUT)
            conn.request(
                "POST",
                "/api/v1/reservations/",
                body=body.encode(),
                headers={
                    "Host": HOST,
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": idempotency_key,
                },
            )
            response = conn.getresponse()
            raw = response.read()
            try:
                data = json.loads(raw)
            except ValueError:
                data = {"raw": raw[:200].decode("utf-8", "replace")}
            answers.append(
                Answer(
                    response.status,
                    response.getheader("Content-Type", ""),
                    data,
                    response.getheader("Idempotent-Replayed", ""),
                )
            )
        except Exception as exc:  # any failure is what the test must show
            answers.append(Answer(0, "", {"error": repr(exc)}, ""))
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=request, daemon=True) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    assert not [thread for thread in threads if thread.is_alive()], "a request hung"
    assert len(answers) == len(requests)
    return answers


def test_a_hundred_parallel_posts_for_three_seats_book_exactly_three(
    server: Server, slots: Slots, django_db_blocker: Any
) -> None:
    answers = _send_together(
        server, slots.token, [(_body(slots.contested, index), str(uuid.uuid4())) for index in range(POSTS)]
    )

    assert Counter(answer.status for answer in answers) == {201: SEATS, 409: POSTS - SEATS}, answers
    refusals = [answer for answer in answers if answer.status == 409]
    assert {answer.content_type for answer in refusals} == {PROBLEM_CONTENT_TYPE}
    assert {(answer.body["status"], answer.body["code"]) for answer in refusals} == {(409, "slot_full")}
    assert all("満席" in answer.body["detail"] for answer in refusals)
    booked = [answer.body for answer in answers if answer.status == 201]
    assert all(answer.replayed == "" for answer in answers)
    assert {body["slot"]["id"] for body in booked} == {slots.contested}
    codes = {body["code"] for body in booked}
    assert len(codes) == SEATS
    with django_db_blocker.unblock(), schema_context(SLUG):
        slot = Slot.objects.get(pk=slots.contested)
        reservations = Reservation.objects.filter(slot=slot)
        assert set(reservations.values_list("code", flat=True)) == codes
        assert reservations.filter(status=Reservation.Status.BOOKED).count() == SEATS
        assert reservations.aggregate(seats=Sum("seats"))["seats"] == SEATS
        assert (slot.taken, slot.seats) == (SEATS, SEATS)


def test_one_idempotency_key_sent_ten_times_at_once_books_once(
    server: Server, slots: Slots, django_db_blocker: Any
) -> None:
    body = _body(slots.roomy, 10_000)
    idempotency_key = f"retry-{uuid.uuid4()}"
    answers = _send_together(server, slots.token, [(body, idempotency_key)] * DUPLICATES)

    assert {answer.status for answer in answers} <= {201, 409}, answers
    created = [answer for answer in answers if answer.status == 201]
    assert created, answers
    assert [answer.replayed for answer in created].count("") == 1  # one ran, the others are its replays
    assert {answer.replayed for answer in created} <= {"", "true"}
    assert len({answer.body["code"] for answer in created}) == 1
    waiting = [answer for answer in answers if answer.status == 409]
    assert {answer.content_type for answer in waiting} <= {PROBLEM_CONTENT_TYPE}
    assert {answer.body["code"] for answer in waiting} <= {"idempotency_in_progress"}

    # Once the first is over, the same request again is the replay of its answer.
    (again,) = _send_together(server, slots.token, [(body, idempotency_key)])
    assert (again.status, again.replayed, again.body["code"]) == (201, "true", created[0].body["code"])
    with django_db_blocker.unblock(), schema_context(SLUG):
        assert list(Reservation.objects.filter(slot_id=slots.roomy).values_list("code", flat=True)) == [
            again.body["code"]
        ]
        assert Slot.objects.get(pk=slots.roomy).taken == 1
