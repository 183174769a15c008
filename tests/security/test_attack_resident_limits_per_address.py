"""Issue 10, item 7: residents' limits were per exact address only (IPv6 counted per /128), and per-address limits
either let a spread-out guesser through or refused a carrier's crowd behind one IPv4 address.

Now the per-address limits are generous backstops counted per address bucket (IPv4 address, IPv6 /64, and the
/56 at 4 times), and the tight limits are per session. 200 residents behind one IPv4 address each book once;
addresses rotating inside one /64 are limited as one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import Reservation, Slot
from apps.booking.tests.resident_helpers import person_data
from tenants.models import Municipality
from tests.factories import SlotFactory, visit_day

CARRIER_NAT = "192.0.2.77"


@pytest.fixture(autouse=True)
def _mail_sync(settings: Any) -> None:
    settings.BOOKING_MAIL_SYNC = True


def _client(address: str) -> Client:
    return Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR=address)


def _hold(client: Client, slot: Slot) -> str:
    day = slot.start.astimezone(TOKYO).date()
    response = client.post(f"/book/application/{day.isoformat()}/", {"slot": slot.pk, "persons": 1})
    assert response.status_code == 302, response.status_code
    return str(response["Location"])


def _confirm(client: Client, url: str, index: int) -> int:
    birth = date(1950, 1, 1) + timedelta(days=index * 37)  # one person each: max_future_bookings
    data = {
        **person_data(
            "p1", f"上尾 住民{index}", "western", str(birth.year), str(birth.month), str(birth.day)
        ),
        "email": f"resident{index}@example.jp",
        "phone": "090-1234-5678",
        "submission_key": str(uuid.uuid4()),
    }
    return client.post(url, data).status_code


def test_two_hundred_residents_behind_one_ipv4_address_each_book_once(in_city: Municipality) -> None:
    day = visit_day()
    slots = [SlotFactory.create(day=day, at=time(9 + i // 2, 30 * (i % 2)), seats=20) for i in range(10)]
    residents = [_client(CARRIER_NAT) for _ in range(200)]  # each phone its own browser (session)
    # In waves of 10, as in a rush: ten residents hold a time, then all ten send their forms.
    for wave in range(20):
        members = range(wave * 10, wave * 10 + 10)
        forms = {i: _hold(residents[i], slots[i % 10]) for i in members}
        statuses = [_confirm(residents[i], forms[i], i) for i in members]
        assert statuses == [302] * 10, statuses
    assert Reservation.objects.count() == 200


def _lookup(client: Client, index: int) -> int:
    data = {
        "code": f"NOCODE{index:02d}",
        "birth_date_0": "western",
        "birth_date_1": "1985",
        "birth_date_2": "7",
        "birth_date_3": "7",
    }
    return client.post("/book/find/", data).status_code


def test_ipv6_addresses_rotating_inside_one_64_are_limited_as_one(
    in_city: Municipality, settings: Any
) -> None:
    settings.BOOKING_RATE_LIMITS = {"lookup_ip": (5, 600)}
    statuses = [_lookup(_client(f"2001:db8:77:1::{i + 1:x}"), i) for i in range(5)]
    assert statuses == [400] * 5
    assert _lookup(_client("2001:db8:77:1:dead:beef:0:1"), 5) == 429
    # The next /64 of the same /56 has its own allowance ...
    assert _lookup(_client("2001:db8:77:2::1"), 6) == 400
    # ... and the /56 as a whole has four /64s' worth (20), not 256: rotating /64s meets it.
    statuses = [_lookup(_client(f"2001:db8:77:{3 + i:x}::1"), 10 + i) for i in range(20)]
    assert statuses.count(400) == 20 - 7  # 7 of the /56's 20 were used above (a refused try counts too)
    assert statuses[-1] == 429
    # Another /56 is not affected.
    assert _lookup(_client("2001:db8:78:1::1"), 40) == 400


def test_the_tight_limit_is_per_session_not_per_address(in_city: Municipality) -> None:
    one = _client(CARRIER_NAT)
    assert [_lookup(one, i) for i in range(10)] == [400] * 10
    assert _lookup(one, 10) == 429
    # Another phone behind the same address is not refused.
    assert _lookup(_client(CARRIER_NAT), 11) == 400


def test_the_calendar_page_sets_no_session(in_city: Municipality) -> None:
    """The per-session limits make sessions on POST only: the cached calendar page must not set a cookie."""
    page = _client(CARRIER_NAT).get("/book/application/")
    assert page.status_code == 200
    assert django_settings.SESSION_COOKIE_NAME not in page.cookies


def test_the_bench_setting_is_refused_in_secure_mode() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": f"{root / 'platform'}{os.pathsep}{root}",
        "MADOGUCHI_BENCH_LIMITS": "true",
        "MADOGUCHI_SECURE": "true",
        "DJANGO_SECRET_KEY": "x" * 32 + uuid.uuid4().hex + uuid.uuid4().hex,
        "MADOGUCHI_TRUSTED_PROXIES": "10.0.0.5/32",
        "MADOGUCHI_VENDOR_NETWORKS": "198.51.100.0/24",
        "MADOGUCHI_AUDIT_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
        "MADOGUCHI_API_KEY_PEPPER": uuid.uuid4().hex + uuid.uuid4().hex,
        "MADOGUCHI_VIRUS_SCANNERS": "clamd:unix:///run/clamav/clamd.ctl",
        # Named, never reached: the process must stop before it connects (and secure mode refuses an unset one).
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/not-used",
    }
    started = subprocess.run(
        [sys.executable, "-c", "import madoguchi.settings"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.returncode != 0
    assert "MADOGUCHI_BENCH_LIMITS" in started.stderr
    env["MADOGUCHI_BENCH_LIMITS"] = "false"
    started = subprocess.run(
        [sys.executable, "-c", "import madoguchi.settings as s; print(s.BOOKING_ADDRESS_LIMIT_FACTOR)"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.stdout.strip() == "1", started.stderr[-2000:]
