"""Staff accounts live in their city's schema: a login works at its own city and nowhere else."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context

from apps.security.models import Role, User
from tenants.models import Municipality
from tests.factories import PASSWORD, staff_user, supervisor_user, totp_code, with_totp

LOGIN = "/accounts/login/"


@pytest.fixture
def staff(city: Municipality) -> User:
    with schema_context(city.schema_name):
        return staff_user(username="tanaka", email="tanaka@city.ageo.example")


def _login(client: Client, login: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post(LOGIN, {"login": login, "password": password})


def test_login_page_is_japanese(city_client: Client) -> None:
    body = city_client.get(LOGIN).content.decode()
    assert "ログイン" in body
    assert 'lang="ja"' in body


def test_staff_logs_in_with_username(staff: User, city_client: Client) -> None:
    response = _login(city_client, "tanaka")
    assert response.status_code == 302
    assert city_client.get("/").wsgi_request.user.is_authenticated


def test_staff_logs_in_with_email(staff: User, city_client: Client) -> None:
    assert _login(city_client, "tanaka@city.ageo.example").status_code == 302


def test_wrong_password_is_refused_in_japanese(staff: User, city_client: Client) -> None:
    response = _login(city_client, "tanaka", "wrong-password-123")
    assert response.status_code == 200
    assert "正しくありません" in response.content.decode()
    assert not response.wsgi_request.user.is_authenticated


def test_a_city_login_does_not_work_at_another_city(staff: User, other_city_client: Client) -> None:
    response = _login(other_city_client, "tanaka")
    assert response.status_code == 200
    assert not response.wsgi_request.user.is_authenticated


def test_a_city_session_cookie_is_meaningless_at_another_city(
    staff: User, city_client: Client, other_city_client: Client
) -> None:
    _login(city_client, "tanaka")
    other_city_client.cookies = city_client.cookies  # a stolen or copied cookie
    assert not other_city_client.get("/").wsgi_request.user.is_authenticated


def test_a_city_login_does_not_work_on_the_vendor_host(staff: User, public_client: Client) -> None:
    response = _login(public_client, "tanaka")
    assert not response.wsgi_request.user.is_authenticated


def test_vendor_superuser_logs_in_on_the_public_host_only(
    public_client: Client, city_client: Client, db: None
) -> None:
    vendor = User.objects.create_superuser("vendor-admin", "admin@vendor.example", PASSWORD)
    secret = with_totp(vendor)
    assert _login(city_client, "vendor-admin").wsgi_request.user.is_authenticated is False
    assert _login(public_client, "vendor-admin").status_code == 302
    assert public_client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)}).status_code == 302
    assert public_client.get("/console/").status_code == 200


def test_logout(staff: User, city_client: Client) -> None:
    _login(city_client, "tanaka")
    city_client.post("/accounts/logout/")
    assert not city_client.get("/").wsgi_request.user.is_authenticated


def test_password_change(staff: User, city_client: Client, city: Municipality) -> None:
    _login(city_client, "tanaka")
    new = "a-new-long-passphrase-42"
    response = city_client.post(
        "/accounts/password/change/", {"oldpassword": PASSWORD, "password1": new, "password2": new}
    )
    assert response.status_code == 302
    with schema_context(city.schema_name):
        assert User.objects.get(username="tanaka").check_password(new)


def test_password_reset_by_email_is_sent_in_japanese(staff: User, city_client: Client) -> None:
    response = city_client.post("/accounts/password/reset/", {"email": "tanaka@city.ageo.example"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["tanaka@city.ageo.example"]
    assert "ageo.localhost" in message.body  # the link leads back to the same city
    assert "パスワード" in message.subject + message.body


def test_password_reset_link_sets_a_new_password(
    staff: User, city_client: Client, city: Municipality
) -> None:
    city_client.post("/accounts/password/reset/", {"email": "tanaka@city.ageo.example"})
    link = next(word for word in mail.outbox[0].body.split() if "/accounts/password/reset/key/" in word)
    path = link.split("ageo.localhost", 1)[1]
    form_page = city_client.get(path, follow=True)
    new = "reset-passphrase-9876"
    response = city_client.post(form_page.wsgi_request.path, {"password1": new, "password2": new})
    assert response.status_code == 302
    with schema_context(city.schema_name):
        assert User.objects.get(username="tanaka").check_password(new)


def test_sign_up_is_closed(city_client: Client) -> None:
    response = city_client.post(
        "/accounts/signup/",
        {
            "username": "intruder",
            "email": "x@example.jp",
            "password1": "long-password-123",
            "password2": "long-password-123",
        },
    )
    assert response.status_code in (200, 403)
    assert "intruder" not in [u.username for u in User.objects.all()]


def test_every_city_has_the_supervisor_and_staff_groups(city: Municipality, other_city: Municipality) -> None:
    for municipality in (city, other_city):
        with schema_context(municipality.schema_name):
            assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in Role}


def test_staff_of_one_city_are_invisible_to_another(city: Municipality, other_city: Municipality) -> None:
    with schema_context(city.schema_name):
        supervisor_user(username="sato")
        assert User.objects.count() == 1
    with schema_context(other_city.schema_name):
        assert User.objects.count() == 0
        assert not User.objects.filter(username="sato").exists()
