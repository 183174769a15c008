"""docs/api_example.py, the Python client of docs/api.md, against a real server (tests/api/conftest.py): it books,
replays the same Idempotency-Key without a second booking, reads the booking back and cancels it; with a bad key it
prints the problem and exits 1."""

from __future__ import annotations

import importlib.util
from datetime import datetime, time, timedelta
from types import ModuleType
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import CounterGroup, Reservation, Slot
from apps.security.models import ApiScope
from tests.api.conftest import HOST, SLUG, Server, server_key
from tests.factories import SlotFactory
from tests.live_server import ROOT

pytestmark = pytest.mark.slow


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("api_example", ROOT / "docs" / "api_example.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def day_with_one_slot(server: Server, django_db_blocker: Any) -> tuple[str, int]:
    with django_db_blocker.unblock(), schema_context(SLUG):
        day = timezone.now().astimezone(TOKYO).date() + timedelta(days=9)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        group = CounterGroup.objects.get()
        start = datetime.combine(day, time(0, 0), TOKYO)
        # Only this slot on the day, so the script's "first free slot" is known.
        Slot.objects.filter(
            counter_group=group, start__gte=start, start__lt=start + timedelta(days=1)
        ).delete()
        slot = SlotFactory.create(
            counter_group=group, start=datetime.combine(day, time(14, 0), TOKYO), seats=4
        )
    return day.isoformat(), slot.pk


def test_the_example_books_replays_reads_and_cancels(
    server: Server,
    django_db_blocker: Any,
    day_with_one_slot: tuple[str, int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    day, slot_id = day_with_one_slot
    token = server_key(
        server,
        django_db_blocker,
        "example",
        ApiScope.SLOTS_READ,
        ApiScope.RESERVATIONS_READ,
        ApiScope.RESERVATIONS_WRITE,
    )
    example = _example()
    client = example.Client(server.base_url, token, host=HOST)
    seen = example.book_and_cancel(client, "application", day, "見本 花子", "1985-06-07")

    code = seen["reservation"]["code"]
    assert seen["replay"]["code"] == code
    assert seen["replayed"].get("Idempotent-Replayed") == "true"
    assert seen["cancelled"]["status"] == "cancelled"
    printed = capsys.readouterr().out
    assert f"booked {code}" in printed
    assert f"cancelled {code}" in printed
    with django_db_blocker.unblock(), schema_context(SLUG):
        on_slot = list(Reservation.objects.filter(slot_id=slot_id).values_list("code", "status"))
        assert on_slot == [(code, Reservation.Status.CANCELLED)]  # one booking, however many POSTs
        assert Slot.objects.get(pk=slot_id).taken == 0


def test_a_bad_key_is_a_problem_and_exit_status_1(
    server: Server, day_with_one_slot: tuple[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    day, _slot = day_with_one_slot
    status = _example().main(
        [
            "--base",
            server.base_url,
            "--host",
            HOST,
            "--token",
            "mdg_zzzz0000_" + "A" * 43,  # well formed, no such key
            "--date",
            day,
            "--lang",
            "en",
        ]
    )
    assert status == 1
    assert "401 api_key_unknown: This API key is not recognised by this city." in capsys.readouterr().err
