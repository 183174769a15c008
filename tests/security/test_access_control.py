"""Access control (IPA 安全なウェブサイトの作り方: アクセス制御・認可制御の欠落), by walking every URL pattern.

Every route of both URLconfs is requested as: a client outside the city's networks, an anonymous client, a staff
member of another city (whose session means nothing here), and each role of the city. A page added later is
walked the day it is added: a staff page that forgets its login or permission check fails here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import schema_context

from apps.security.middleware import is_staff_path
from apps.security.models import Role
from conftest import OUTSIDE_ADDRESS
from tenants.models import Municipality
from tests.factories import UserFactory, login_as, with_totp

SAMPLE = {"int": "1", "str": "sample", "slug": "sample", "path": "sample", "uuid": str(uuid.UUID(int=1))}


@dataclass(frozen=True)
class Route:
    path: str
    callback: object

    @property
    def permission(self) -> str | None:
        return getattr(self.callback, "required_permission", None)

    @property
    def open_without_key(self) -> bool:
        """The API's description (schema, Swagger UI, Redoc): no key, still only within the city's networks."""
        return bool(getattr(getattr(self.callback, "view_class", None), "open_without_key", False))


def _walk(patterns: list[URLPattern | URLResolver], prefix: str = "") -> Iterator[Route]:
    for pattern in patterns:
        route = prefix + _concrete(str(pattern.pattern))
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        else:
            yield Route("/" + route.lstrip("^").rstrip("$"), pattern.callback)


def _concrete(route: str) -> str:
    """A path that the pattern matches: converters and regex groups filled with sample values."""
    import re

    route = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE.get(m.group(1) or "str", "sample"), route)
    route = re.sub(r"\(\?P<\w+>[^)]*\)", "sample", route)
    return route.replace("^", "").replace("$", "").replace("\\", "")


def routes(urlconf: str) -> list[Route]:
    return list(_walk(get_resolver(urlconf).url_patterns))


CITY_ROUTES = routes("madoguchi.urls_tenant")
PUBLIC_ROUTES = routes("madoguchi.urls_public")
CITY_STAFF_ROUTES = [r for r in CITY_ROUTES if is_staff_path(r.path)]
PROTECTED_CITY_ROUTES = [
    r for r in CITY_STAFF_ROUTES if r.path.startswith(("/staff/", "/api/")) and not r.open_without_key
]


def test_the_walk_finds_the_known_pages() -> None:
    paths = {r.path for r in CITY_ROUTES}
    assert {"/", "/accounts/login/", "/staff/", "/staff/security/networks/", "/healthz"} <= paths
    assert "/console/" in {r.path for r in PUBLIC_ROUTES}


def test_only_the_apis_description_is_open_without_a_key(city_client: Client) -> None:
    open_routes = {r.path for r in CITY_STAFF_ROUTES if r.open_without_key}
    assert open_routes == {"/api/v1/schema/", "/api/v1/docs/", "/api/v1/redoc/"}
    for path in open_routes:
        assert city_client.get(path).status_code == 200


def _refused_by_network(response: object) -> bool:
    return response.status_code == 403 and "この接続元からは利用できません" in response.content.decode()  # type: ignore[attr-defined]


@pytest.mark.parametrize("route", CITY_STAFF_ROUTES, ids=lambda r: r.path)
def test_every_city_staff_page_is_refused_from_outside_the_networks(city: Municipality, route: Route) -> None:
    client = Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR=OUTSIDE_ADDRESS)
    assert _refused_by_network(client.get(route.path))
    assert _refused_by_network(client.post(route.path, {}))


@pytest.mark.parametrize("route", [r for r in PUBLIC_ROUTES if is_staff_path(r.path)], ids=lambda r: r.path)
def test_every_vendor_staff_page_is_refused_from_outside_the_vendor_networks(db: None, route: Route) -> None:
    client = Client(HTTP_HOST="localhost", REMOTE_ADDR=OUTSIDE_ADDRESS)
    assert _refused_by_network(client.get(route.path))


@pytest.mark.parametrize("route", [r for r in CITY_ROUTES if not is_staff_path(r.path)], ids=lambda r: r.path)
def test_resident_pages_stay_open_from_anywhere(city: Municipality, route: Route) -> None:
    response = Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR=OUTSIDE_ADDRESS).get(route.path)
    assert not _refused_by_network(response)
    if route.path == "/readyz" and response.status_code == 503:
        # Readiness may honestly say "unavailable" (e.g. the broker slow to answer on a loaded machine): that is
        # its JSON answer, not an error page.
        assert response.json()["status"] == "unavailable"
        return
    assert response.status_code < 500


def _goes_to_login(response: object) -> bool:
    return response.status_code in (302, 401, 403) and (  # type: ignore[attr-defined]
        response.status_code != 302 or "/accounts/login/" in response["Location"]  # type: ignore[index]
    )


@pytest.mark.parametrize("route", PROTECTED_CITY_ROUTES, ids=lambda r: r.path)
def test_anonymous_gets_no_staff_page(city_client: Client, route: Route) -> None:
    assert _goes_to_login(city_client.get(route.path))
    assert _goes_to_login(city_client.post(route.path, {}))


@pytest.fixture
def other_city_staff_client(other_city: Municipality) -> Client:
    with schema_context(other_city.schema_name):
        user = UserFactory(username="okegawa-boss", role=Role.SUPERVISOR)
        with_totp(user)
    client = Client(HTTP_HOST="okegawa.localhost")
    login_as(client, user, "okegawa")
    client.defaults["HTTP_HOST"] = "ageo.localhost"  # the same browser, now at another city's host
    return client


@pytest.mark.parametrize("route", PROTECTED_CITY_ROUTES, ids=lambda r: r.path)
def test_another_citys_supervisor_is_a_stranger_here(other_city_staff_client: Client, route: Route) -> None:
    assert _goes_to_login(other_city_staff_client.get(route.path))


def _role_client(city: Municipality, role: Role) -> Client:
    with schema_context(city.schema_name):
        user = UserFactory(username=f"walk-{role.value}", role=role)
        with_totp(user)
    client = Client(HTTP_HOST="ageo.localhost")
    login_as(client, user, "ageo")
    return client


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_each_role_reaches_exactly_the_pages_its_permissions_allow(city: Municipality, role: Role) -> None:
    from apps.security.roles import ROLE_PERMISSIONS

    client = _role_client(city, role)
    for route in PROTECTED_CITY_ROUTES:
        status = client.get(route.path).status_code
        if route.permission and route.permission not in ROLE_PERMISSIONS[role]:
            assert status == 403, f"{role.value} reached {route.path}"
        else:
            assert status not in (302, 403), f"{role.value} refused at {route.path}: {status}"
            assert status < 500, f"{role.value} broke {route.path}: {status}"


# Django admin's own login and logout are open to anyone inside the vendor's networks, like /accounts/login/.
CONSOLE_SIGN_IN = ("/console/admin/login/", "/console/admin/logout/")
PROTECTED_PUBLIC_ROUTES = [
    r
    for r in PUBLIC_ROUTES
    if r.path.startswith(("/staff/", "/api/", "/console/")) and r.path not in CONSOLE_SIGN_IN
]


@pytest.mark.parametrize("route", PROTECTED_PUBLIC_ROUTES, ids=lambda r: r.path)
def test_anonymous_gets_no_vendor_staff_page(public_client: Client, route: Route) -> None:
    response = public_client.get(route.path)
    assert response.status_code in (302, 401, 403)
    if response.status_code == 302:
        assert "login" in response["Location"]


@pytest.mark.parametrize("route", PROTECTED_PUBLIC_ROUTES, ids=lambda r: r.path)
def test_a_city_supervisor_is_a_stranger_on_the_vendor_host(city: Municipality, route: Route) -> None:
    client = _role_client(city, Role.SUPERVISOR)
    client.defaults["HTTP_HOST"] = "localhost"
    response = client.get(route.path)
    assert response.status_code in (302, 401, 403)


# The vendor console (/console/, issue 15): every page names the least vendor role that may open it (console.access).
CONSOLE_ROUTES = [
    r for r in PUBLIC_ROUTES if r.path.startswith("/console/") and not r.path.startswith("/console/admin/")
]
DJANGO_ADMIN_ROUTES = [r for r in PUBLIC_ROUTES if r.path.startswith("/console/admin/")]


def test_every_console_page_names_its_least_role() -> None:
    assert "/console/" in {r.path for r in CONSOLE_ROUTES}
    missing = [r.path for r in CONSOLE_ROUTES if getattr(r.callback, "required_vendor_role", None) is None]
    assert missing == []


@pytest.mark.parametrize("role", ["support", "operator", "admin"])
def test_each_vendor_role_reaches_exactly_the_console_pages_it_may(db: None, role: str) -> None:
    from console.access import VendorRole, role_allows
    from console.tests.vendor import vendor_client

    vendor_role = VendorRole(role)
    client = vendor_client(vendor_role)
    for route in CONSOLE_ROUTES:
        status = client.get(route.path).status_code
        if role_allows(vendor_role, route.callback.required_vendor_role):  # type: ignore[attr-defined]
            assert status not in (302, 403), f"{role} refused at {route.path}: {status}"
            assert status < 500, f"{role} broke {route.path}: {status}"
        else:
            assert status == 403, f"{role} reached {route.path}: {status}"
    for route in DJANGO_ADMIN_ROUTES:  # Django admin: superusers only, whatever the console role
        if route.path not in CONSOLE_SIGN_IN:
            assert client.get(route.path, follow=True).status_code in (403, 404), route.path


def test_a_vendor_account_without_a_role_reaches_no_console_page(db: None) -> None:
    from console.tests.vendor import vendor_client

    client = vendor_client(None)
    for route in CONSOLE_ROUTES:
        assert client.get(route.path).status_code == 403, route.path
