"""What is recorded by itself: logins, failed logins and logouts, and every other write by a signed-in user."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.security.audit_models import AuditEvent
from apps.security.models import User
from tenants.models import Municipality
from tests.factories import PASSWORD, login_as, staff_user, with_totp

LOGIN = "/accounts/login/"
WRONG_PASSWORD = "Wrong-password-0042"
AUDIT_WRITES = "apps.security.audit_middleware.AuditWritesMiddleware"


@pytest.fixture(autouse=True)
def _audit_urls_and_middleware(settings: object) -> None:
    settings.ROOT_URLCONF = "apps.security.tests.urls_audit"  # type: ignore[attr-defined]
    middleware = list(settings.MIDDLEWARE)  # type: ignore[attr-defined]
    if AUDIT_WRITES not in middleware:
        middleware.insert(
            middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1, AUDIT_WRITES
        )
    settings.MIDDLEWARE = middleware  # type: ignore[attr-defined]


@pytest.fixture
def staff(city: Municipality) -> User:
    with schema_context(city.schema_name):
        return staff_user(username="tanaka", email="tanaka@city.ageo.example")


def _events(city: Municipality, **filters: object) -> list[AuditEvent]:
    with schema_context(city.schema_name):
        return list(AuditEvent.objects.filter(**filters).order_by("sequence"))


def _everything_recorded(city: Municipality) -> str:
    with schema_context(city.schema_name):
        return repr(list(AuditEvent.objects.values()))


def _signed_in(city: Municipality, client: Client, user: User) -> Client:
    with schema_context(city.schema_name):
        with_totp(user)
    return login_as(client, user, "ageo")


# --- Logins --------------------------------------------------------------------------------------------------------


def test_a_login_is_recorded_with_who_where_and_the_request(
    staff: User, city_client: Client, city: Municipality
) -> None:
    response = city_client.post(LOGIN, {"login": "tanaka", "password": PASSWORD})
    assert response.status_code == 302
    (event,) = _events(city, action="auth.login")
    assert (event.actor_id, event.actor_username, event.actor_kind) == (staff.pk, "tanaka", "staff")
    assert event.address == "127.0.0.1"
    assert event.target == f"User:{staff.pk}"
    assert event.request_id == response["X-Request-ID"]
    assert _events(city, action="request.write") == []  # the login is its own record


def test_a_failed_login_is_recorded_with_the_name_but_never_the_password(
    staff: User, city_client: Client, city: Municipality
) -> None:
    city_client.post(LOGIN, {"login": "tanaka", "password": WRONG_PASSWORD})
    (event,) = _events(city, action="auth.login_failed")
    assert event.target == "login:tanaka"
    assert event.actor_kind == "anonymous"
    assert event.address == "127.0.0.1"
    assert WRONG_PASSWORD not in _everything_recorded(city)


def test_a_failed_login_for_an_unknown_name_is_recorded_too(city: Municipality, city_client: Client) -> None:
    city_client.post(LOGIN, {"login": "nobody@example.jp", "password": WRONG_PASSWORD})
    (event,) = _events(city, action="auth.login_failed")
    assert event.target == "login:nobody@example.jp"
    assert WRONG_PASSWORD not in _everything_recorded(city)


def test_a_logout_is_recorded(staff: User, city_client: Client, city: Municipality) -> None:
    _signed_in(city, city_client, staff)
    city_client.post("/accounts/logout/")
    (event,) = _events(city, action="auth.logout")
    assert (event.actor_username, event.target) == ("tanaka", f"User:{staff.pk}")


def test_a_login_elsewhere_is_recorded_there(
    staff: User, other_city: Municipality, other_city_client: Client, city: Municipality
) -> None:
    other_city_client.post(LOGIN, {"login": "tanaka", "password": PASSWORD})
    assert _events(city, action__startswith="auth.") == []
    with schema_context(other_city.schema_name):
        assert AuditEvent.objects.filter(action="auth.login_failed", target="login:tanaka").exists()


# --- Other writes --------------------------------------------------------------------------------------------------


def test_a_write_no_service_recorded_is_recorded_by_path_and_view(
    staff: User, city_client: Client, city: Municipality
) -> None:
    client = _signed_in(city, city_client, staff)
    assert client.post("/staff/test/plain-write/").status_code == 200
    (event,) = _events(city, action="request.write")
    assert event.target == "/staff/test/plain-write/"
    assert event.summary == "POST /staff/test/plain-write/ (test_plain_write)"
    assert (event.actor_username, event.address) == ("tanaka", "127.0.0.1")


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_write_methods_are_recorded(
    staff: User, city_client: Client, method: str, city: Municipality
) -> None:
    getattr(_signed_in(city, city_client, staff), method)("/staff/test/plain-write/")
    assert len(_events(city, action="request.write")) == 1


def test_a_write_a_service_recorded_is_not_recorded_twice(
    staff: User, city_client: Client, city: Municipality
) -> None:
    _signed_in(city, city_client, staff).post("/staff/test/audited-write/")
    assert [e.action for e in _events(city, action__in=["policy.changed", "request.write"])] == [
        "policy.changed"
    ]


def test_refused_writes_reads_and_anonymous_writes_are_not_recorded_as_writes(
    staff: User, city_client: Client, city: Municipality
) -> None:
    city_client.post("/staff/test/plain-write/")  # anonymous
    client = _signed_in(city, city_client, staff)
    client.post("/staff/test/refused-write/")
    client.get("/staff/test/plain-write/")
    assert _events(city, action="request.write") == []


def test_a_write_refused_before_the_view_is_not_recorded(
    staff: User, city_client: Client, city: Municipality
) -> None:
    with schema_context(city.schema_name):
        city_client.force_login(staff)  # no second factor yet: the staff session middleware redirects
    response = city_client.post("/staff/test/plain-write/")
    assert response.status_code == 302
    assert _events(city, action="request.write") == []


def test_request_bodies_are_never_recorded(staff: User, city_client: Client, city: Municipality) -> None:
    _signed_in(city, city_client, staff).post(
        "/staff/test/plain-write/?q=query-secret", {"name": "山田太郎", "password": "body-secret-1"}
    )
    recorded = _everything_recorded(city)
    assert len(_events(city, action="request.write")) == 1
    for secret in ("山田太郎", "body-secret-1", "query-secret"):
        assert secret not in recorded
