"""Cursor pagination of the API's lists: every row once in either direction, while rows are added between pages,
and a clear 400 for a bad limit, ordering or cursor (a tampered cursor never opens another page)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from apps.security.api_pagination import CursorPagination
from apps.security.models import ApiKey
from tenants.models import Municipality

PAGINATION = CursorPagination(orderings={"created": "created_at", "name": "name"}, default="created", limit=3)


def _request(**query: Any) -> Request:
    return Request(APIRequestFactory().get("/api/v1/things/", query, HTTP_HOST="ageo.localhost"))


def _keys(count: int) -> list[ApiKey]:
    start = timezone.now() - timedelta(days=1)
    keys = [
        ApiKey.objects.create(name=f"key {index % 3}", prefix=f"p{index:05d}", secret_hash="0" * 64)
        for index in range(count)
    ]
    for index, key in enumerate(keys):
        # Two keys share each instant, so the id must break ties.
        ApiKey.objects.filter(pk=key.pk).update(created_at=start + timedelta(minutes=index // 2))
    return keys


def _walk(ordering: str, **extra: Any) -> list[int]:
    seen: list[int] = []
    query: dict[str, Any] = {"ordering": ordering, **extra}
    for _page in range(20):
        page = PAGINATION.page(ApiKey.objects.all(), _request(**query))
        seen += [item.pk for item in page.items]
        if page.next_cursor is None:
            assert page.next_url is None
            return seen
        assert "cursor=" in (page.next_url or "")
        query = {**query, "cursor": page.next_cursor}
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize("ordering", ["created", "-created", "name", "-name"])
def test_every_row_once_in_order(in_city: Municipality, ordering: str) -> None:
    _keys(8)
    field = {"created": "created_at", "name": "name"}[ordering.lstrip("-")]
    sign = "-" if ordering.startswith("-") else ""
    expected = list(ApiKey.objects.order_by(f"{sign}{field}", f"{sign}pk").values_list("pk", flat=True))
    assert _walk(ordering) == expected
    assert len(expected) == 8


def test_rows_added_between_pages_are_not_repeated_or_skipped(in_city: Municipality) -> None:
    _keys(4)
    first = PAGINATION.page(ApiKey.objects.all(), _request())
    newer = ApiKey.objects.create(name="later", prefix="late0001", secret_hash="0" * 64)
    rest = _walk("created", cursor=first.next_cursor)
    pages = [item.pk for item in first.items] + rest
    assert len(pages) == len(set(pages)) == 5
    assert pages[-1] == newer.pk


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"ordering": "secret_hash"}, "ordering"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_parameters_are_400_with_the_field(
    in_city: Municipality, query: dict[str, str], field: str
) -> None:
    with pytest.raises(exceptions.ValidationError) as raised:
        PAGINATION.page(ApiKey.objects.all(), _request(**query))
    assert field in raised.value.detail  # type: ignore[operator]


def test_a_tampered_cursor_or_one_of_another_ordering_is_refused(in_city: Municipality) -> None:
    _keys(5)
    cursor = PAGINATION.page(ApiKey.objects.all(), _request()).next_cursor
    assert cursor
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    for query in ({"cursor": tampered}, {"cursor": cursor, "ordering": "-created"}):
        with pytest.raises(exceptions.ValidationError) as raised:
            PAGINATION.page(ApiKey.objects.all(), _request(**query))
        assert "cursor" in raised.value.detail  # type: ignore[operator]
