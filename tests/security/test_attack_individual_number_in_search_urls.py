"""Issue 10, item 6: a counter search for a 個人番号 was refused with 400, but the number was already in the access
log (`GET /staff/counter/?q=…`) and in the counter PC's browser history.

Now every staff search form (counter search, card list filter, audit log filter) is sent by POST; a valid search is
kept server-side and the browser goes (303) to an opaque id, `?s=<id>`, so the address, the access log and the
history hold only the id (apps/security/searches.py). A search holding the number is refused on the POST (400 with
the message) and never redirected. An id means nothing to another user, another city, or after it expires.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.issuance.models import CardState
from apps.security import searches
from apps.security.audit_models import AuditEvent
from apps.security.models import Role
from tenants.models import Municipality
from tests.factories import CardFactory, UserFactory, login_as, role_client, with_totp

NUMBER = "123456789018"
MESSAGE = "個人番号（マイナンバー）は入力しないでください"
# (path, a valid search whose text must not reach the address, role, text that only the found results show)
PAGES = [
    ("/staff/counter/", {"q": "A1B-424242"}, Role.STAFF, "A1B-424242"),
    ("/staff/cards/", {"q": "アゲオ", "state": "notice_mailed"}, Role.STAFF, "A1B-424242"),
    ("/staff/audit/", {"actor": "searcher-"}, Role.SUPERVISOR, "searcher-"),
]
NUMBER_FIELD = {"/staff/counter/": "q", "/staff/cards/": "q", "/staff/audit/": "actor"}


@pytest.fixture
def card(city: Municipality) -> Any:
    with schema_context(city.schema_name):
        return CardFactory.create(
            notice_number="A1B-424242", kana="アゲオ ハナコ", state=CardState.NOTICE_MAILED
        )


def _client(city: Municipality, role: Role, name: str) -> Client:
    return role_client(city, role, f"searcher-{name}")


def _kept(client: Client) -> dict[str, Any]:
    return dict(client.session.get(searches.SESSION_KEY) or {})


@pytest.mark.parametrize(("path", "terms", "role", "shown"), PAGES, ids=[p[0] for p in PAGES])
def test_a_search_is_posted_and_shown_at_an_opaque_id(
    city: Municipality, card: Any, path: str, terms: dict[str, str], role: Role, shown: str
) -> None:
    client = _client(city, role, "a")
    response = client.post(path, {**terms, "list": "1"} if path == "/staff/counter/" else terms)
    assert response.status_code == 303
    location = response["Location"]
    assert re.fullmatch(re.escape(path) + r"\?s=[A-Za-z0-9_-]{16}", location), location
    for value in terms.values():
        assert value not in location
    page = client.get(location)
    assert page.status_code in (200, 302)
    if page.status_code == 200:
        assert shown in page.content.decode()


@pytest.mark.parametrize("path", list(NUMBER_FIELD))
@pytest.mark.parametrize("typed", [NUMBER, "1234 5678 9018", "１２３４-５６７８-９０１８"])
def test_a_search_holding_the_number_is_refused_on_the_post_and_never_redirected(
    city: Municipality, card: Any, path: str, typed: str
) -> None:
    client = _client(city, Role.SUPERVISOR, "b")
    with schema_context(city.schema_name):
        viewed = AuditEvent.objects.filter(action="personal_data.viewed").count()
    response = client.post(path, {NUMBER_FIELD[path]: typed})
    assert response.status_code == 400
    assert "Location" not in response
    assert MESSAGE in response.content.decode()
    assert _kept(client) == {}  # nothing kept, so no id can ever show it
    with schema_context(city.schema_name):
        assert AuditEvent.objects.filter(action="personal_data.viewed").count() == viewed
        assert not AuditEvent.objects.filter(summary__contains=NUMBER).exists()


def test_the_old_query_string_searches_nothing(city: Municipality, card: Any) -> None:
    client = _client(city, Role.STAFF, "c")
    page = client.get("/staff/counter/", {"q": "A1B-424242"})
    assert page.status_code == 200
    assert 'href="/staff/counter/card/' not in page.content.decode()
    with schema_context(city.schema_name):
        assert not AuditEvent.objects.filter(target="issuance:counter_search").exists()


def test_another_users_id_finds_nothing(city: Municipality, card: Any) -> None:
    mine, theirs = _client(city, Role.STAFF, "d"), _client(city, Role.STAFF, "e")
    location = mine.post("/staff/cards/", {"q": "アゲオ"})["Location"]
    page = theirs.get(location)
    body = page.content.decode()
    assert page.status_code == 200
    assert "この検索は期限が切れたか、見つかりません。" in body
    assert 'value="アゲオ"' not in body


def test_the_same_session_after_another_user_signs_in_finds_nothing(city: Municipality, card: Any) -> None:
    client = _client(city, Role.STAFF, "f")
    location = client.post("/staff/cards/", {"q": "アゲオ"})["Location"]
    with schema_context(city.schema_name):
        other = UserFactory(username="searcher-g", role=Role.STAFF)
        with_totp(other)
    # The kept search travels with the session; a different user on that session must not get it back.
    session = client.session
    kept = session[searches.SESSION_KEY]
    login_as(client, other, "ageo")
    session = client.session
    session[searches.SESSION_KEY] = kept
    session.save()
    assert 'value="アゲオ"' not in client.get(location).content.decode()


def test_another_citys_id_finds_nothing(city: Municipality, other_city: Municipality, card: Any) -> None:
    ageo = _client(city, Role.STAFF, "h")
    location = ageo.post("/staff/cards/", {"q": "アゲオ"})["Location"]
    okegawa = role_client(other_city, Role.STAFF, "searcher-okegawa")
    page = okegawa.get(location)
    assert page.status_code == 200
    assert "A1B-424242" not in page.content.decode()
    assert 'value="アゲオ"' not in page.content.decode()


def test_an_expired_id_finds_nothing(city: Municipality, card: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client = _client(city, Role.STAFF, "i")
    location = client.post("/staff/cards/", {"q": "アゲオ"})["Location"]
    assert "A1B-424242" in client.get(location).content.decode()
    monkeypatch.setattr(searches, "LIFETIME_SECONDS", 0)
    page = client.get(location)
    assert "この検索は期限が切れたか、見つかりません。" in page.content.decode()
    assert 'value="アゲオ"' not in page.content.decode()


def test_pages_and_the_csv_keep_the_id(city: Municipality) -> None:
    with schema_context(city.schema_name):
        CardFactory.create_batch(51, kana="アゲオ タロウ", state=CardState.NOTICE_MAILED)
    staff = _client(city, Role.STAFF, "j")
    location = staff.post("/staff/cards/", {"q": "アゲオ"})["Location"]
    first = staff.get(location).content.decode()
    search_id = location.split("?s=")[1]
    assert f'href="?s={search_id}&amp;page=2"' in first
    assert staff.get(f"{location}&page=2").content.decode().count("の詳細</a>") == 1

    supervisor = _client(city, Role.SUPERVISOR, "k")
    location = supervisor.post("/staff/audit/", {"action": "auth.login"})["Location"]
    search_id = location.split("?s=")[1]
    assert f'href="/staff/audit/export.csv?s={search_id}"' in supervisor.get(location).content.decode()
    export = supervisor.get(f"/staff/audit/export.csv?s={search_id}")
    assert export.status_code == 200
    rows = b"".join(export.streaming_content).decode("utf-8-sig").splitlines()  # type: ignore[attr-defined]
    assert all(",auth.login," in row for row in rows[1:])
