"""Anonymous resident pages are answered from the cache right after tenant routing (issue 12, item 3), and the
answer is the one the view gives: language, CSRF cookie and token, headers; bookings show at once."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.messages import constants
from django.contrib.messages.storage.base import Message
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.http import HttpResponse
from django.test import Client, RequestFactory

from apps.booking.manage.tests.test_resident_manage import _book
from apps.security.models import Role
from tenants.models import Municipality
from tests.factories import SlotFactory, role_client, visit_day

HOST = "ageo.localhost"
# Differ from one answer to the next whatever served it.
PER_ANSWER = {"x-request-id", "expires", "content-length"}


@pytest.fixture
def pages(in_city: Municipality) -> dict[str, Any]:
    day = visit_day()
    slot = SlotFactory.create(day=day, seats=1)
    cache.clear()
    return {
        "slot": slot,
        "day": day,
        "top": "/",
        "purposes": "/book/",
        "month": f"/book/application/?month={day:%Y-%m}",
        "times": f"/book/application/{day:%Y-%m-%d}/",
    }


def _visitor(**extra: Any) -> Client:
    return Client(HTTP_HOST=HOST, **extra)


def _from_cache(response: Any) -> bool:
    """Answered by ResidentPageMiddleware: no session middleware ran for the request."""
    return not hasattr(response.wsgi_request, "session")


def _token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "the page has a CSRF token"
    return match.group(1)


@pytest.mark.parametrize("page", ["top", "purposes", "month", "times"])
def test_a_warm_page_is_answered_before_the_session_with_the_same_headers(
    pages: dict[str, Any], page: str
) -> None:
    first = _visitor().get(pages[page])
    assert first.status_code == 200
    assert not _from_cache(first)
    second = _visitor().get(pages[page])
    assert second.status_code == 200
    assert _from_cache(second)
    assert second.content.decode().count("csrf-token-placeholder") == 0
    assert _token(second.content.decode()) != _token(first.content.decode())

    def headers(response: Any) -> dict[str, str]:
        return {k.lower(): v for k, v in response.headers.items()}

    assert set(headers(second)) == set(headers(first))
    for name, value in headers(first).items():
        if name not in PER_ANSWER:
            assert headers(second)[name] == value, name
    for name in (
        "content-security-policy",
        "x-frame-options",
        "x-content-type-options",
        "vary",
        "content-language",
    ):
        assert name in headers(second), name
    assert set(second.cookies) == set(first.cookies) == {"csrftoken"}
    assert int(second["Content-Length"]) == len(second.content)


def test_a_booking_shows_at_once_on_the_month_and_the_day(
    pages: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    for page in ("month", "times"):
        _visitor().get(pages[page])
        assert _from_cache(_visitor().get(pages[page]))
    assert "あと1人" in _visitor().get(pages["times"]).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        _book(pages["slot"])
    month = _visitor().get(pages["month"]).content.decode()
    assert f'{pages["day"].day}</span>\n                  <span class="calendar__status">× 満席' in month
    times = _visitor().get(pages["times"]).content.decode()
    assert "あと1人" not in times
    assert "この日は予約できる時間がありません" in times


def test_the_language_is_the_visitors_own(pages: dict[str, Any]) -> None:
    _visitor().get(pages["purposes"])
    english = _visitor(HTTP_ACCEPT_LANGUAGE="en").get(pages["purposes"])  # rendered in English, then kept
    assert english["Content-Language"] == "en"
    english = _visitor(HTTP_ACCEPT_LANGUAGE="en").get(pages["purposes"])
    assert _from_cache(english)
    assert english["Content-Language"] == "en"
    assert '<html lang="en">' in english.content.decode()
    visitor = _visitor(enforce_csrf_checks=True)
    page = visitor.get(pages["purposes"])
    assert _from_cache(page)
    assert page["Content-Language"] == "ja"
    switched = visitor.post(
        "/i18n/setlang/",
        {"csrfmiddlewaretoken": _token(page.content.decode()), "language": "en", "next": pages["purposes"]},
    )
    assert switched.status_code == 302
    after = visitor.get(pages["purposes"])
    assert _from_cache(after)
    assert after["Content-Language"] == "en"
    assert '<html lang="en">' in after.content.decode()


def test_a_visitor_without_a_csrf_cookie_gets_one_and_can_hold_a_time(pages: dict[str, Any]) -> None:
    _visitor().get(pages["times"])
    visitor = _visitor(enforce_csrf_checks=True)
    page = visitor.get(pages["times"])
    assert _from_cache(page)
    assert "csrftoken" in page.cookies
    held = visitor.post(
        pages["times"],
        {"csrfmiddlewaretoken": _token(page.content.decode()), "slot": pages["slot"].pk, "persons": 1},
    )
    assert held.status_code == 302
    assert "/book/hold/" in held["Location"]
    # Back on the day page with a session now: the view answers (from its cache), with the same token cookie.
    again = visitor.get(pages["times"])
    assert not _from_cache(again)
    assert again.status_code == 200


def test_a_visitor_with_a_cookie_token_keeps_it(pages: dict[str, Any]) -> None:
    _visitor().get(pages["month"])
    visitor = _visitor(enforce_csrf_checks=True)
    first = visitor.get(pages["month"])
    cookie = first.cookies["csrftoken"].value
    second = visitor.get(pages["month"])
    assert _from_cache(second)
    # Sent again with the same secret, as CsrfViewMiddleware does whenever a page uses the token.
    assert second.cookies["csrftoken"].value == cookie
    assert visitor.cookies["csrftoken"].value == cookie


def test_a_signed_in_member_of_staff_gets_the_page_made_for_them(
    city: Municipality, pages: dict[str, Any]
) -> None:
    _visitor().get(pages["top"])
    assert _from_cache(_visitor().get(pages["top"]))
    staff = role_client(city, Role.STAFF)
    response = staff.get(pages["top"])
    assert response.status_code == 200
    assert not _from_cache(response)
    assert "ログイン中" in response.content.decode()
    assert "職員ログイン" not in response.content.decode()


def test_a_visitor_with_a_message_gets_the_page_with_it(pages: dict[str, Any]) -> None:
    _visitor().get(pages["purposes"])
    assert _from_cache(_visitor().get(pages["purposes"]))
    visitor = _visitor()
    storage = CookieStorage(RequestFactory().get("/"))
    visitor.cookies["messages"] = storage._encode([Message(constants.SUCCESS, "予約を取り消しました。")])
    response = visitor.get(pages["purposes"])
    assert not _from_cache(response)
    assert "予約を取り消しました。" in response.content.decode()
    assert "予約を取り消しました。" not in _visitor().get(pages["purposes"]).content.decode()


def test_the_maintenance_hook_answers_first(pages: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    _visitor().get(pages["purposes"])
    assert _from_cache(_visitor().get(pages["purposes"]))
    monkeypatch.setattr(
        "madoguchi.middleware.maintenance_response", lambda request: HttpResponse("maintenance", status=503)
    )
    response = _visitor().get(pages["purposes"])
    assert response.status_code == 503
    assert response.content == b"maintenance"


def test_other_addresses_are_not_served_from_the_cache(pages: dict[str, Any]) -> None:
    for path in (pages["purposes"], pages["month"], pages["times"]):
        _visitor().get(path)
    for path in (
        pages["purposes"] + "?x=1",
        pages["month"] + "&month=2000-01",
        pages["times"] + "?slot=1",
        pages["times"].replace("-", ""),  # 20261210: the same day, another spelling
    ):
        response = _visitor().get(path)
        assert not _from_cache(response), path
