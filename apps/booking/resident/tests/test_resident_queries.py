"""A warm resident page runs no ORM query and reads the cache once (issue 12, item 2).

On the database cache (the default without Redis) the cache read is one SQL statement on `madoguchi_cache`.
django-tenants runs `SET search_path` before each statement (`TENANT_LIMIT_SET_CALLS = False`); those are counted
by `django_assert_max_num_queries` but are not queries of their own, so the assertions below leave them out.
Host → city comes from the process's map (tenants.routing), whose version check is not per request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from apps.booking.tests.resident_helpers import application
from tests.factories import AnnouncementFactory, SlotFactory, visit_day

DATABASE_CACHE = "db.DatabaseCache" in settings.CACHES["default"]["BACKEND"]


def _statements(captured: Any) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith("SET search_path")]


def _pages() -> list[str]:
    day = visit_day()
    SlotFactory.create(day=day)
    return ["/", "/book/", f"/book/application/?month={day:%Y-%m}", f"/book/application/{day:%Y-%m-%d}/"]


@pytest.fixture
def pages(in_city: Any) -> list[str]:
    return _pages()


@pytest.mark.parametrize("index", range(4), ids=["top", "purposes", "month", "day"])
def test_a_warm_resident_page_reads_the_cache_once_and_runs_no_orm_query(
    city_client: Client, pages: list[str], index: int, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    path = pages[index]
    cache.clear()
    with django_assert_max_num_queries(80) as cold:
        assert city_client.get(path).status_code == 200
    assert (
        len(_statements(cold)) <= 30
    )  # cold: the context, the page's rows, the maintenance banner, the writes
    assert city_client.get(path).status_code == 200
    with django_assert_max_num_queries(2) as warm:  # the cache read and its search_path
        response = city_client.get(path)
    assert response.status_code == 200
    statements = _statements(warm)
    if DATABASE_CACHE:
        assert len(statements) == 1
        assert 'FROM "madoguchi_cache"' in statements[0]
    else:
        assert statements == []


def test_the_day_page_takes_purpose_and_settings_from_the_context(
    city_client: Client, pages: list[str], django_assert_max_num_queries: Callable[..., Any]
) -> None:
    day_page = pages[3]
    city_client.get(day_page)
    cache.delete(_day_key(day_page))  # only the page: the context stays cached
    with django_assert_max_num_queries(40) as cold_page:
        assert city_client.get(day_page).status_code == 200
    tables = " ".join(_statements(cold_page))
    assert "booking_purpose" not in tables
    assert "booking_bookingsettings" not in tables
    assert "booking_slot" in tables  # the day's times are read, and only them


def _day_key(path: str) -> str:
    from datetime import date

    from apps.booking.calendar.hours import TOKYO
    from apps.booking.resident.page_cache import day_page_key

    day = date.fromisoformat(path.rstrip("/").rsplit("/", 1)[1])
    return day_page_key("application", day, "ja", timezone.now().astimezone(TOKYO).date())


def test_announcements_show_as_soon_as_a_supervisor_saves_one(
    city_client: Client, pages: list[str], django_capture_on_commit_callbacks: Any
) -> None:
    for path in pages[:2]:
        city_client.get(path)
        assert "臨時休業" not in city_client.get(path).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        announcement = AnnouncementFactory.create(
            title_ja="臨時休業", body_ja="<p>本文</p>", starts_at=timezone.now() - timedelta(minutes=1)
        )
    for path in pages[:2]:
        assert "臨時休業" in city_client.get(path).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        announcement.delete()
    for path in pages[:2]:
        assert "臨時休業" not in city_client.get(path).content.decode()


def test_a_purpose_switched_off_leaves_the_purposes_page_at_once(
    city_client: Client, pages: list[str]
) -> None:
    assert "申請サポート" in city_client.get("/book/").content.decode()
    purpose = application()
    purpose.active = False
    purpose.save()
    assert "申請サポート" not in city_client.get("/book/").content.decode()
    assert city_client.get(pages[3]).status_code == 404
