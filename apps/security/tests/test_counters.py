"""Security counters: exact under concurrency, per city, never culled, and failing open or closed as asked."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from django_tenants.utils import schema_context

from apps.security.counters import (
    OVER_EVERY_LIMIT,
    counter_clear,
    counter_hit,
    counter_peek,
    counters_at_least,
    counters_prune,
)
from tenants.models import Municipality


@pytest.fixture
def key() -> str:
    return f"test:{secrets.token_hex(8)}"


def _end_window(key: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE security_counter SET window_end = now() - interval '1 second' WHERE key = %s", [key]
        )


def test_hits_count_up_within_the_window_and_start_again_after_it(city: Municipality, key: str) -> None:
    with schema_context(city.schema_name):
        counts = [counter_hit(key, window=60, fail_closed=True).count for _ in range(3)]
        assert counts == [1, 2, 3]
        assert counter_peek(key, fail_closed=True).count == 3
        assert 1 <= counter_hit(key, window=60, fail_closed=True).retry_after <= 60
        _end_window(key)
        assert counter_peek(key, fail_closed=True).count == 0
        assert counter_hit(key, window=60, fail_closed=True).count == 1


def test_a_city_never_sees_another_citys_counters(
    city: Municipality, other_city: Municipality, key: str
) -> None:
    with schema_context(city.schema_name):
        for _ in range(4):
            counter_hit(key, window=60, fail_closed=True)
        counter_hit(key, window=60, fail_closed=True, public=True)
    with schema_context(other_city.schema_name):
        assert counter_peek(key, fail_closed=True).count == 0
        assert counters_at_least("test:", 1) == []
        # Counting across cities (attack signs) is the public schema's, the same from every city.
        assert counter_peek(key, fail_closed=True, public=True).count == 1
    with schema_context(city.schema_name):
        assert counter_peek(key, fail_closed=True).count == 4


def test_many_other_keys_never_cull_a_counter(city: Municipality, other_city: Municipality, key: str) -> None:
    """The database cache culled a third of its 300 entries when full: ageo's lockout count vanished."""
    with schema_context(city.schema_name):
        for _ in range(5):
            counter_hit(key, window=900, fail_closed=True)
    with schema_context(other_city.schema_name):
        for n in range(450):
            counter_hit(f"booking:lookup:{n}", window=900, fail_closed=False)
    with schema_context(city.schema_name):
        assert counter_hit(key, window=900, fail_closed=True).count == 6


def test_a_failed_store_fails_closed_for_staff_and_open_for_residents(city: Municipality, key: str) -> None:
    with schema_context(city.schema_name):
        counter_hit(key, window=60, fail_closed=True)
        with (
            connection.cursor() as cursor
        ):  # a real failure: the table is not there (nor public's, on the path)
            cursor.execute(f"ALTER TABLE {city.schema_name}.security_counter RENAME TO security_counter_gone")
            cursor.execute("ALTER TABLE public.security_counter RENAME TO security_counter_gone")
        staff = counter_hit(key, window=60, fail_closed=True)
        resident = counter_hit(key, window=60, fail_closed=False)
        assert staff.failed
        assert staff.over(10**6)
        assert staff.count == OVER_EVERY_LIMIT
        assert resident.failed
        assert not resident.over(1)
        assert counter_peek(key, fail_closed=True).over(10**6)
        assert not counter_peek(key, fail_closed=False).over(0)
        with connection.cursor() as cursor:  # the surrounding transaction is still usable
            cursor.execute(f"ALTER TABLE {city.schema_name}.security_counter_gone RENAME TO security_counter")
            cursor.execute("ALTER TABLE public.security_counter_gone RENAME TO security_counter")
        assert counter_hit(key, window=60, fail_closed=True).count == 2


def test_clear_and_prune(city: Municipality, key: str) -> None:
    with schema_context(city.schema_name):
        counter_hit(key, window=60, fail_closed=True)
        counter_hit(key + ":ended", window=60, fail_closed=True)
        _end_window(key + ":ended")
        assert counters_prune() >= 1
        assert counter_peek(key, fail_closed=True).count == 1
        counter_clear(key)
        assert counter_peek(key, fail_closed=True).count == 0


@pytest.fixture
def committed_key() -> Iterator[str]:
    """A public-schema key that threads on their own connections commit to; deleted afterwards."""
    name = f"test:parallel:{secrets.token_hex(8)}"
    yield name

    def cleanup() -> None:
        with schema_context("public"):
            counter_clear(name, public=True)
        connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(cleanup).result()


@pytest.mark.django_db(transaction=False)
def test_parallel_hits_are_each_counted_exactly_once(db: None, committed_key: str) -> None:
    """The database cache's incr reads then writes, so parallel guesses under-counted; one statement does not."""

    def hits(_: int) -> list[int]:
        try:
            return [
                counter_hit(committed_key, window=60, fail_closed=True, public=True).count for _ in range(25)
            ]
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        seen = [count for batch in pool.map(hits, range(8)) for count in batch]
    assert sorted(seen) == list(range(1, 201))
