"""Session management (IPA: セッション管理の不備): fixation, timeouts, logout, logging out everywhere, cookies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.security.models import Role, SecurityPolicy, User
from tenants.models import Municipality
from tests.factories import PASSWORD, UserFactory, login_as, totp_code, with_totp

STAFF_PAGE = "/staff/"


@pytest.fixture
def staff_with_secret(city: Municipality) -> tuple[User, str]:
    with schema_context(city.schema_name):
        user = UserFactory(username="sasaki", role=Role.STAFF)
        return user, with_totp(user)


@pytest.fixture
def staff(staff_with_secret: tuple[User, str]) -> User:
    return staff_with_secret[0]


def _session_key(client: Client) -> str | None:
    cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
    return cookie.value if cookie else None


def test_login_issues_a_new_session_key(city: Municipality, staff_with_secret: tuple[User, str]) -> None:
    _staff, secret = staff_with_secret
    client = Client(HTTP_HOST="ageo.localhost")
    client.get("/accounts/login/")
    session = client.session  # a session an attacker could have planted in the victim's browser
    session["planted"] = "x"
    session.save()
    before = session.session_key
    client.cookies[settings.SESSION_COOKIE_NAME] = before
    client.post("/accounts/login/", {"login": "sasaki", "password": PASSWORD})
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert response.status_code == 302
    assert client.get(STAFF_PAGE).status_code == 200
    after = _session_key(client)
    assert after
    assert after != before


def test_session_cookie_is_httponly_and_samesite(city_client: Client, staff: User) -> None:
    city_client.post("/accounts/login/", {"login": "sasaki", "password": PASSWORD})
    cookie = city_client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"


def _logged_in(city_client: Client, user: User) -> Client:
    login_as(city_client, user, "ageo")
    assert city_client.get(STAFF_PAGE).status_code == 200
    return city_client


def _age_session(client: Client, key: str, minutes: int) -> None:
    session = client.session
    session[key] = (timezone.now() - timedelta(minutes=minutes)).isoformat()
    session.save()


def test_idle_timeout_logs_out_with_a_japanese_message(city_client: Client, staff: User) -> None:
    client = _logged_in(city_client, staff)
    _age_session(client, "security_seen_at", 31)
    response = client.get(STAFF_PAGE, follow=True)
    assert response.redirect_chain[0][0].startswith("/accounts/login/")
    assert "一定時間操作がなかったため" in response.content.decode()
    assert not response.wsgi_request.user.is_authenticated


def test_activity_keeps_the_session_alive(city_client: Client, staff: User) -> None:
    client = _logged_in(city_client, staff)
    _age_session(client, "security_seen_at", 29)
    assert client.get(STAFF_PAGE).status_code == 200


def test_idle_timeout_follows_the_city_policy(city: Municipality, city_client: Client, staff: User) -> None:
    with schema_context(city.schema_name):
        SecurityPolicy.objects.filter(pk=1).update(idle_timeout_minutes=10)
    from apps.security.policy import forget_policy

    with schema_context(city.schema_name):
        forget_policy()
    client = _logged_in(city_client, staff)
    _age_session(client, "security_seen_at", 11)
    assert client.get(STAFF_PAGE).status_code == 302


def test_absolute_timeout_ends_even_an_active_session(city_client: Client, staff: User) -> None:
    client = _logged_in(city_client, staff)
    _age_session(client, "security_auth_at", 13 * 60)
    response = client.get(STAFF_PAGE, follow=True)
    assert "ログインの有効時間が過ぎました" in response.content.decode()


def test_logout_ends_the_session_on_the_server(city_client: Client, staff: User) -> None:
    client = _logged_in(city_client, staff)
    key = _session_key(client)
    client.post("/accounts/logout/")
    replay = Client(HTTP_HOST="ageo.localhost")
    replay.cookies[settings.SESSION_COOKIE_NAME] = key or ""
    assert replay.get(STAFF_PAGE).status_code == 302  # the old cookie opens nothing


def test_log_out_everywhere_ends_every_other_session(city_client: Client, staff: User) -> None:
    laptop = _logged_in(city_client, staff)
    phone = _logged_in(Client(HTTP_HOST="ageo.localhost"), staff)
    laptop.post("/staff/account/logout-everywhere/")
    response = phone.get(STAFF_PAGE, follow=True)
    assert "すべての端末からログアウトしました" in response.content.decode()
    assert not response.wsgi_request.user.is_authenticated
