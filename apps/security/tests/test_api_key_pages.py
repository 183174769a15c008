"""Supervisors' API key pages (issue 13): create, see the token once, rotate, revoke, each after the second factor
is entered again; other roles and other cities are refused."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.security.audit_models import AuditEvent
from apps.security.models import ApiKey, ApiScope, Role
from apps.security.tests.api_helpers import bearer, make_key, problem
from tenants.models import Municipality
from tests.factories import UserFactory, login_as, with_totp

LIST = "/staff/security/api-keys/"
NEW = "/staff/security/api-keys/new/"
ISSUED = "/staff/security/api-keys/issued/"
REAUTHENTICATE = "/accounts/2fa/reauthenticate/"
PURPOSES = "/api/v1/purposes/"
TOKEN = re.compile(r"mdg_[a-z0-9]{8}_[A-Za-z0-9_-]{20,}")


def _supervisor(city: Municipality, username: str = "keys-boss", *, reauthenticated: bool = True) -> Client:
    """A supervisor of `city` signed in with the second factor; `reauthenticated`: the second factor entered again
    just now on allauth's reauthentication page, as the pages ask (with a recovery code: a time-based code could
    fall on the edge of its 30-second period)."""
    with schema_context(city.schema_name):
        user = UserFactory(username=username, role=Role.SUPERVISOR)
        with_totp(user)
        RecoveryCodes.activate(user)
        code = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES).wrap()
        recovery_code = code.get_unused_codes()[0]
    client = login_as(Client(HTTP_HOST=f"{city.slug}.localhost"), user, city.schema_name)
    if reauthenticated:
        answer = client.post(f"{REAUTHENTICATE}?next={NEW}", {"code": recovery_code})
        assert answer.status_code == 302, answer
        assert answer["Location"] == NEW
    return client


def _writes(city: Municipality, action: str) -> int:
    """Audit rows of `action`; for the generic "request.write", only those of these pages (the reauthentication
    page's own POST is allauth's)."""
    with schema_context(city.schema_name):
        events = AuditEvent.objects.filter(action=action)
        if action == "request.write":
            events = events.filter(target__startswith=LIST)
        return events.count()


def _create(client: Client, name: str = "住民記録システム", **extra: object) -> object:
    expiry = (timezone.localdate() + timedelta(days=30)).isoformat()
    data = {"name": name, "scopes": [ApiScope.SLOTS_READ, ApiScope.RESERVATIONS_READ], "expires_on": expiry}
    return client.post(NEW, {**data, **extra})


def _shown_token(client: Client) -> str:
    page = client.get(ISSUED)
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    found = TOKEN.findall(page.content.decode())
    assert len(found) == 1, page.content.decode()
    return found[0]


def test_a_supervisor_creates_a_key_and_sees_it_once(city: Municipality) -> None:
    client = _supervisor(city)
    form = client.get(NEW)
    assert form.status_code == 200
    page = form.content.decode()
    assert 'name="scopes"' in page
    assert "空き状況の参照" in page
    assert "予約できる日時と残り人数を読み取れます" in page
    expected_default = (timezone.localdate() + timedelta(days=365)).isoformat()
    assert f'value="{expected_default}"' in page

    answer = _create(client)
    assert answer.status_code == 302
    assert answer["Location"] == ISSUED
    token = _shown_token(client)
    with schema_context(city.schema_name):
        key = ApiKey.objects.get()
        assert key.name == "住民記録システム"
        assert key.scopes == [ApiScope.SLOTS_READ, ApiScope.RESERVATIONS_READ]
        assert key.created_by is not None
        assert key.created_by.username == "keys-boss"
        expires = timezone.localtime(key.expires_at)
        assert (expires.date(), expires.hour, expires.minute) == (
            timezone.localdate() + timedelta(days=30),
            23,
            59,
        )
    assert token.startswith(f"mdg_{key.prefix}_")

    again = client.get(ISSUED)  # a reload or the back button
    assert again.status_code == 200
    assert token not in again.content.decode()
    assert not TOKEN.search(again.content.decode())
    assert "一度だけ表示されます" in again.content.decode()

    assert Client(HTTP_HOST="ageo.localhost").get(PURPOSES, **bearer(token)).status_code == 200
    # The service's own audit row, and no generic one for the same request.
    assert _writes(city, "api_key.created") == 1
    assert _writes(city, "request.write") == 0

    listing = client.get(LIST).content.decode()
    assert key.prefix in listing
    assert "住民記録システム" in listing
    assert "有効" in listing
    assert token not in listing


def test_without_the_code_entered_again_nothing_is_created(city: Municipality) -> None:
    client = _supervisor(city, reauthenticated=False)  # passed the second factor at login only
    form = client.get(NEW)
    assert form.status_code == 200
    page = form.content.decode()
    assert 'name="scopes"' not in page
    assert f'href="{REAUTHENTICATE}?next=%2Fstaff%2Fsecurity%2Fapi-keys%2Fnew%2F"' in page

    refused = _create(client)
    assert refused.status_code == 403
    assert "操作は行われていません" in refused.content.decode()
    with schema_context(city.schema_name):
        assert not ApiKey.objects.exists()
    assert _writes(city, "request.write") == 0


def test_the_code_entered_again_expires(city: Municipality) -> None:
    client = _supervisor(city)
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {**record, "at": record["at"] - settings.ACCOUNT_REAUTHENTICATION_TIMEOUT - 1}
        for record in session[AUTHENTICATION_METHODS_SESSION_KEY]
    ]
    session.save()
    assert _create(client).status_code == 403
    with schema_context(city.schema_name):
        assert not ApiKey.objects.exists()


def test_a_form_error_creates_nothing(city: Municipality) -> None:
    client = _supervisor(city)
    no_scope = _create(client, scopes=[])
    assert no_scope.status_code == 400
    assert "権限を1つ以上選んでください" in no_scope.content.decode()
    past = _create(client, expires_on=timezone.localdate().isoformat())
    assert past.status_code == 400
    assert "有効期限は明日以降の日付にしてください" in past.content.decode()
    with schema_context(city.schema_name):
        assert not ApiKey.objects.exists()


@pytest.mark.parametrize("role", [Role.STAFF, Role.AUDITOR])
def test_other_roles_are_refused(city: Municipality, role: Role) -> None:
    key, _token = make_key(city)
    with schema_context(city.schema_name):
        user = UserFactory(username=f"keys-{role.value}", role=role)
        with_totp(user)
    client = login_as(Client(HTTP_HOST="ageo.localhost"), user, city.schema_name)
    for path in (LIST, NEW, ISSUED, f"{LIST}{key.pk}/rotate/", f"{LIST}{key.pk}/revoke/"):
        assert client.get(path).status_code == 403, path
        assert client.post(path, {}).status_code == 403, path
    assert LIST not in client.get("/staff/").content.decode()
    with schema_context(city.schema_name):
        assert ApiKey.objects.get().revoked_at is None


def test_the_menu_links_supervisors_to_the_keys(city: Municipality) -> None:
    client = _supervisor(city, reauthenticated=False)
    assert f'href="{LIST}"' in client.get("/staff/").content.decode()


def test_another_citys_supervisor_cannot_see_or_revoke_the_key(
    city: Municipality, other_city: Municipality
) -> None:
    key, token = make_key(city, name="上尾の連携")
    other = _supervisor(other_city, "okegawa-keys")
    listing = other.get(LIST)
    assert listing.status_code == 200
    assert key.prefix not in listing.content.decode()
    assert "上尾の連携" not in listing.content.decode()
    assert other.get(f"{LIST}{key.pk}/revoke/").status_code == 404
    assert other.post(f"{LIST}{key.pk}/revoke/").status_code == 404
    assert other.post(f"{LIST}{key.pk}/rotate/", {"expires_on": "2099-01-01"}).status_code == 404
    with schema_context(city.schema_name):
        assert ApiKey.objects.get(pk=key.pk).revoked_at is None
    assert Client(HTTP_HOST="ageo.localhost").get(PURPOSES, **bearer(token)).status_code == 200


def test_revoke_asks_first_then_the_token_stops(city: Municipality) -> None:
    key, token = make_key(city)
    client = _supervisor(city)
    revoke = f"{LIST}{key.pk}/revoke/"
    confirm = client.get(revoke)
    assert confirm.status_code == 200
    assert "元に戻せません" in confirm.content.decode()
    with schema_context(city.schema_name):
        assert ApiKey.objects.get().revoked_at is None  # a GET changes nothing

    answer = client.post(revoke)
    assert answer.status_code == 302
    assert answer["Location"] == LIST
    refused = Client(HTTP_HOST="ageo.localhost").get(PURPOSES, **bearer(token))
    assert refused.status_code == 401
    assert problem(refused)["code"] == "api_key_revoked"
    assert "失効" in client.get(LIST).content.decode()

    twice = client.post(revoke)  # a second click: nothing more to do or record
    assert twice.status_code == 409
    assert _writes(city, "api_key.revoked") == 1
    assert _writes(city, "request.write") == 0


def test_revoke_without_the_code_entered_again_changes_nothing(city: Municipality) -> None:
    key, token = make_key(city)
    client = _supervisor(city, reauthenticated=False)
    assert client.post(f"{LIST}{key.pk}/revoke/").status_code == 403
    assert Client(HTTP_HOST="ageo.localhost").get(PURPOSES, **bearer(token)).status_code == 200


def test_rotate_shows_a_new_token_and_the_old_one_stops(city: Municipality) -> None:
    key, old = make_key(city)
    with schema_context(city.schema_name):
        ApiKey.objects.filter(pk=key.pk).update(
            expires_at=timezone.now() + timedelta(days=3), expiry_warned_at=timezone.now()
        )
    client = _supervisor(city)
    rotate = f"{LIST}{key.pk}/rotate/"
    assert client.get(rotate).status_code == 200
    new_expiry = timezone.localdate() + timedelta(days=200)
    answer = client.post(rotate, {"expires_on": new_expiry.isoformat()})
    assert answer.status_code == 302
    assert answer["Location"] == ISSUED
    new = _shown_token(client)
    assert new != old
    assert new.startswith(f"mdg_{key.prefix}_")

    api = Client(HTTP_HOST="ageo.localhost")
    assert api.get(PURPOSES, **bearer(new)).status_code == 200
    stale = api.get(PURPOSES, **bearer(old))
    assert stale.status_code == 401
    assert problem(stale)["code"] == "api_key_unknown"
    with schema_context(city.schema_name):
        rotated = ApiKey.objects.get()
        assert rotated.rotated_at is not None
        assert timezone.localtime(rotated.expires_at).date() == new_expiry
        assert rotated.expiry_warned_at is None  # the mail before expiry goes again, for the new date
    assert _writes(city, "api_key.rotated") == 1
    assert _writes(city, "request.write") == 0


def test_a_revoked_key_cannot_be_rotated(city: Municipality) -> None:
    key, _token = make_key(city)
    client = _supervisor(city)
    client.post(f"{LIST}{key.pk}/revoke/")
    answer = client.post(f"{LIST}{key.pk}/rotate/", {"expires_on": "2099-01-01"})
    assert answer.status_code == 409
    assert not TOKEN.search(client.get(ISSUED).content.decode())


def test_the_list_shows_the_last_use(city: Municipality) -> None:
    _key, token = make_key(city)
    client = _supervisor(city, reauthenticated=False)
    assert "未使用" in client.get(LIST).content.decode()
    Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR="127.0.0.9").get(PURPOSES, **bearer(token))
    listing = client.get(LIST).content.decode()
    assert "127.0.0.9" in listing
    with schema_context(city.schema_name):
        used = ApiKey.objects.get()
    assert used.last_used_at is not None
    assert timezone.localtime(used.last_used_at).strftime("%Y-%m-%d %H:%M") in listing
    assert "未使用" not in listing


def test_a_supervisor_without_a_second_factor_sets_one_up_first(city: Municipality) -> None:
    with schema_context(city.schema_name):
        user = UserFactory(username="keys-nomfa", role=Role.SUPERVISOR)
    client = login_as(Client(HTTP_HOST="ageo.localhost"), user, city.schema_name)
    page = client.get(NEW)
    assert page.status_code == 302
    assert page["Location"] == "/accounts/2fa/"
    assert _create(client).status_code == 302
    with schema_context(city.schema_name):
        assert not ApiKey.objects.exists()


def test_live_keys_are_listed_before_revoked_ones(city: Municipality) -> None:
    old, _token = make_key(city, name="古い連携")
    make_key(city, name="新しい連携")
    client = _supervisor(city)
    client.post(f"{LIST}{old.pk}/revoke/", follow=True)  # the message about it shown once
    make_key(city, name="最新の連携")
    listing = client.get(LIST).content.decode()
    assert listing.index("最新の連携") < listing.index("新しい連携") < listing.index("古い連携")
