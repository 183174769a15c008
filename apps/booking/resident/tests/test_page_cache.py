"""The residents' calendar page is served from the cache, and never shows what has changed since."""

from __future__ import annotations

import re
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.booking.manage.tests.test_resident_manage import _book
from apps.booking.models import Purpose
from apps.booking.tests.resident_helpers import application
from tenants.models import Municipality
from tests.factories import SlotFactory, visit_day


def _day_cell(html: str, day: Any) -> str:
    """The text of the calendar cell of `day` (its link's label, or the plain cell)."""
    match = re.search(rf'{day.month}月{day.day}日 ([^"]+)"', html)
    return match.group(1) if match else "no link"


def _page(client: Client, day: Any) -> str:
    response = client.get(f"/book/application/?month={day:%Y-%m}")
    assert response.status_code == 200
    return response.content.decode()


def test_a_booking_shows_on_the_cached_page_as_soon_as_it_commits(
    city_client: Client, in_city: Municipality, django_capture_on_commit_callbacks: Any
) -> None:
    day = visit_day()
    slot = SlotFactory.create(day=day, seats=1)
    cache.clear()
    assert _day_cell(_page(city_client, day), day) == "残りわずか"
    with CaptureQueriesContext(connection) as queries:
        assert _day_cell(_page(city_client, day), day) == "残りわずか"
    assert not [q for q in queries if "booking_slot" in q["sql"]]  # the second visit came from the cache
    with django_capture_on_commit_callbacks(execute=True):
        _book(slot)
    assert _day_cell(_page(city_client, day), day) == "no link"  # full: no link to the day
    assert f'{day.day}</span>\n                  <span class="calendar__status">× 満席' in _page(
        city_client, day
    )


def test_a_renamed_purpose_shows_at_once(city_client: Client, in_city: Municipality) -> None:
    day = visit_day()
    SlotFactory.create(day=day)
    assert "申請サポート" in _page(city_client, day)
    purpose = application()
    purpose.name_ja = "申請のお手伝い"
    purpose.save()
    assert "申請のお手伝い" in _page(city_client, day)
    Purpose.objects.filter(pk=purpose.pk).update(active=False)
    purpose.refresh_from_db()
    purpose.save()  # saved through the ORM by the staff pages: the context is forgotten
    assert city_client.get(f"/book/application/?month={day:%Y-%m}").status_code == 404


def test_each_visitor_gets_their_own_csrf_token_and_can_switch_language(
    city: Municipality, in_city: Municipality
) -> None:
    day = visit_day()
    SlotFactory.create(day=day)
    tokens = []
    for _ in range(2):
        client = Client(HTTP_HOST="ageo.localhost", enforce_csrf_checks=True)
        html = _page(client, day)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert token, "the language switch has a CSRF token"
        assert "placeholder" not in token.group(1)
        tokens.append(token.group(1))
        switched = client.post(
            "/i18n/setlang/",
            {"csrfmiddlewaretoken": token.group(1), "language": "en", "next": "/book/application/"},
        )
        assert switched.status_code == 302
        assert "Choose a day" in _page(client, day)
    assert tokens[0] != tokens[1]
