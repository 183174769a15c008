"""A real Celery worker runs a task in the schema it was sent from, and only there.

The worker is a separate process on the configured broker (filesystem under .data/ by default, Redis with
REDIS_URL) and the test database. It listens on a queue of its own, so a developer's running worker never takes
these messages. Data is committed (the worker must see it), in two cities made for this module and dropped after.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.security.tasks import clear_expired_sessions
from tenants.fanout import for_each_city
from tenants.models import Municipality
from tenants.services import MunicipalityInput, municipality_create, municipality_set_status

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _worker_env(queue: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}",
        "DJANGO_SETTINGS_MODULE": "madoguchi.settings",
        "MADOGUCHI_CELERY_QUEUE": queue,
    }
    test_db = connection.settings_dict["NAME"]
    if os.environ.get("DATABASE_URL"):
        parts = urlsplit(os.environ["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{test_db}"))
    else:
        env["MADOGUCHI_EMBEDDED_DB"] = test_db
    return env


@pytest.fixture(scope="module")
def two_cities(
    django_db_setup: None, django_db_blocker: pytest.FixtureRequest
) -> Iterator[list[Municipality]]:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        cities = [
            municipality_create(
                data=MunicipalityInput(
                    slug=slug, lg_code=code, name_ja=name, name_en=slug, prefecture="埼玉県"
                ),
                domains=[f"{slug}.localhost"],
            )
            for slug, code, name in (("ina", "113018", "伊奈町"), ("hasuda", "112381", "蓮田市"))
        ]
        yield cities
        connection.set_schema_to_public()
        for city in cities:
            city.delete(force_drop=True)


@pytest.fixture(scope="module")
def worker(two_cities: list[Municipality]) -> Iterator[str]:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "madoguchi",
            "worker",
            "-P",
            "solo",
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=_worker_env(queue),
    )
    try:
        yield queue
    finally:
        process.terminate()
        process.wait(timeout=30)


def _sessions(schema: str, django_db_blocker: pytest.FixtureRequest) -> set[str]:
    with django_db_blocker.unblock(), schema_context(schema):  # type: ignore[attr-defined]
        return set(Session.objects.values_list("session_key", flat=True))


def test_real_worker_runs_the_task_in_the_city_it_was_sent_from(
    two_cities: list[Municipality], worker: str, django_db_blocker: pytest.FixtureRequest
) -> None:
    ina, hasuda = two_cities
    past, future = timezone.now() - timedelta(days=1), timezone.now() + timedelta(days=1)
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        for schema in (ina.schema_name, hasuda.schema_name):
            with schema_context(schema):
                Session.objects.create(session_key=f"{schema}-expired", session_data="x", expire_date=past)
                Session.objects.create(session_key=f"{schema}-valid", session_data="x", expire_date=future)
        with schema_context(ina.schema_name):
            clear_expired_sessions.apply_async(queue=worker)

    deadline = time.monotonic() + 90  # worker start-up plus the filesystem transport's one-second polling
    while "ina-expired" in _sessions("ina", django_db_blocker) and time.monotonic() < deadline:
        time.sleep(0.25)

    assert _sessions("ina", django_db_blocker) == {"ina-valid"}
    assert _sessions("hasuda", django_db_blocker) == {"hasuda-expired", "hasuda-valid"}


def test_fan_out_sends_one_task_per_active_city_from_its_schema(
    city: Municipality, other_city: Municipality
) -> None:
    seen: list[str] = []

    class Recorder:
        def delay(self) -> None:
            seen.append(connection.schema_name)

    municipality_set_status(municipality=other_city, status=Municipality.Status.SUSPENDED)
    assert for_each_city(Recorder()) == len(seen)
    assert "ageo" in seen
    assert "okegawa" not in seen
    assert "public" not in seen
