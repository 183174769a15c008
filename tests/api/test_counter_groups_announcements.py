"""GET /api/v1/counter-groups/ and /api/v1/announcements/ (scope slots:read): what residents see, per city, with ETag."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.models import CounterGroup
from apps.security.models import ApiScope
from apps.security.tests.api_helpers import bearer, make_key, problem
from tenants.models import Municipality
from tests.factories import AnnouncementFactory

GROUPS = "/api/v1/counter-groups/"
ANNOUNCEMENTS = "/api/v1/announcements/"


def test_counter_groups_with_their_weekly_hours(city: Municipality, city_client: Client) -> None:
    _key, token = make_key(city, ApiScope.SLOTS_READ)
    with schema_context(city.schema_name):
        group = CounterGroup.objects.get()
        group.location = "本庁舎1階 市民課"
        group.save()
        CounterGroup.objects.create(name="閉じた窓口", active=False)
    response = city_client.get(GROUPS, **bearer(token))
    assert response.status_code == 200
    [only] = response.json()  # the inactive group is not offered
    assert only["id"] == group.pk
    assert only["name"] == "マイナンバーカード窓口"
    assert only["location"] == "本庁舎1階 市民課"
    assert only["frame_minutes"] == 30
    assert {"weekday": 0, "start": "08:30", "end": "12:00"} in only["hours"]
    assert {h["weekday"] for h in only["hours"]} == {0, 1, 2, 3, 4}


def test_counter_groups_answer_304_to_their_own_etag_and_change_with_the_groups(
    city: Municipality, city_client: Client
) -> None:
    _key, token = make_key(city, ApiScope.SLOTS_READ)
    first = city_client.get(GROUPS, **bearer(token))
    again = city_client.get(GROUPS, HTTP_IF_NONE_MATCH=first["ETag"], **bearer(token))
    assert again.status_code == 304
    assert again.content == b""
    with schema_context(city.schema_name):
        CounterGroup.objects.update(frame_minutes=20)
    changed = city_client.get(GROUPS, HTTP_IF_NONE_MATCH=first["ETag"], **bearer(token))
    assert changed.status_code == 200
    assert changed["ETag"] != first["ETag"]


def test_a_key_without_slots_read_is_refused(city: Municipality, city_client: Client) -> None:
    _key, token = make_key(city, ApiScope.CARDS_READ)
    for path in (GROUPS, ANNOUNCEMENTS):
        assert problem(city_client.get(path, **bearer(token)))["code"] == "scope_missing"


def test_announcements_shown_now_in_both_languages_newest_first(
    city: Municipality, city_client: Client
) -> None:
    _key, token = make_key(city, ApiScope.SLOTS_READ)
    now = timezone.now()
    with schema_context(city.schema_name):
        older = AnnouncementFactory.create(title_ja="窓口の混雑", starts_at=now - timedelta(days=2))
        newer = AnnouncementFactory.create(
            title_ja="年末年始の休業",
            title_en="New Year closure",
            body_ja="<p>休業します<script>alert(1)</script></p>",
            body_en="",
            starts_at=now - timedelta(hours=1),
        )
        AnnouncementFactory.create(
            title_ja="終わった", starts_at=now - timedelta(days=9), ends_at=now - timedelta(days=1)
        )
        AnnouncementFactory.create(title_ja="これから", starts_at=now + timedelta(days=1))
    response = city_client.get(ANNOUNCEMENTS, **bearer(token))
    assert response.status_code == 200
    body = response.json()
    assert [a["id"] for a in body] == [newer.pk, older.pk]
    assert body[0]["title_en"] == "New Year closure"
    assert body[0]["body_en"] == body[0]["body_ja"]  # no English body: the Japanese one, as the page shows it
    assert "<script" not in body[0]["body_ja"]
    assert body[0]["ends_at"] is None
    again = city_client.get(ANNOUNCEMENTS, HTTP_IF_NONE_MATCH=response["ETag"], **bearer(token))
    assert again.status_code == 304


def test_another_citys_key_sees_neither_list(
    city: Municipality, other_city: Municipality, city_client: Client, other_city_client: Client
) -> None:
    with schema_context(city.schema_name):
        AnnouncementFactory.create(title_ja="上尾のお知らせ")
    _key, ageo_token = make_key(city, ApiScope.SLOTS_READ)
    _other, okegawa_token = make_key(other_city, ApiScope.SLOTS_READ)
    for path in (GROUPS, ANNOUNCEMENTS):
        assert problem(city_client.get(path, **bearer(okegawa_token)))["code"] == "api_key_unknown"
    assert other_city_client.get(ANNOUNCEMENTS, **bearer(okegawa_token)).json() == []
    assert other_city_client.get(ANNOUNCEMENTS, **bearer(ageo_token)).status_code == 401
