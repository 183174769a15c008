"""Who reaches the console: vendor roles, the vendor's networks, the second factor, city staff."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.security.models import Role
from conftest import OUTSIDE_ADDRESS
from console.access import VendorRole, role_allows, vendor_role
from console.tests.vendor import VENDOR_HOST, vendor_client, vendor_user
from tenants.models import Municipality
from tests.factories import role_client


def test_roles_are_ordered_and_a_superuser_is_admin(db: None) -> None:
    assert role_allows(VendorRole.ADMIN, VendorRole.OPERATOR)
    assert role_allows(VendorRole.OPERATOR, VendorRole.SUPPORT)
    assert not role_allows(VendorRole.SUPPORT, VendorRole.OPERATOR)
    assert not role_allows(None, VendorRole.SUPPORT)
    with schema_context("public"):
        assert vendor_role(vendor_user(None, "boss", superuser=True)) == VendorRole.ADMIN
        assert vendor_role(vendor_user(VendorRole.OPERATOR)) == VendorRole.OPERATOR
        assert vendor_role(vendor_user(None)) is None


@pytest.mark.parametrize("role", list(VendorRole), ids=lambda r: r.value)
def test_each_role_sees_the_console_home(db: None, role: VendorRole) -> None:
    response = vendor_client(role).get("/console/")
    assert response.status_code == 200
    assert "管理コンソール" in response.content.decode()


def test_the_menu_shows_what_the_role_may_open(db: None) -> None:
    support = vendor_client(VendorRole.SUPPORT).get("/console/").content.decode()
    admin = vendor_client(VendorRole.ADMIN).get("/console/").content.decode()
    assert "/console/cities/" in support
    assert "/console/vendor-users/" not in support
    assert "/console/vendor-users/" in admin


def test_a_vendor_user_without_a_role_is_refused(db: None) -> None:
    assert vendor_client(None).get("/console/").status_code == 403


def test_anonymous_goes_to_the_login(public_client: Client) -> None:
    response = public_client.get("/console/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_outside_the_vendor_networks_is_refused(db: None) -> None:
    client = vendor_client(VendorRole.ADMIN, REMOTE_ADDR=OUTSIDE_ADDRESS)
    response = client.get("/console/")
    assert response.status_code == 403
    assert "この接続元からは利用できません" in response.content.decode()


def test_without_the_second_factor_this_session_is_refused(db: None) -> None:
    user = vendor_user(VendorRole.ADMIN)
    client = Client(HTTP_HOST=VENDOR_HOST)
    with schema_context("public"):
        client.force_login(user)  # the password only: no second-factor record in the session
    response = client.get("/console/")
    assert response.status_code == 302
    assert "/accounts/2fa/" in response["Location"]


def test_city_staff_are_strangers_on_the_vendor_host(city: Municipality) -> None:
    client = role_client(city, Role.SUPERVISOR)
    client.defaults["HTTP_HOST"] = VENDOR_HOST
    assert client.get("/console/").status_code == 302


def test_the_console_is_not_on_a_citys_host(city: Municipality) -> None:
    client = role_client(city, Role.SUPERVISOR)
    assert client.get("/console/").status_code == 404


def test_django_admin_is_for_superusers_only(db: None) -> None:
    # Django admin sends a signed-in user it refuses to its login page, which refuses anyone but a superuser.
    assert vendor_client(VendorRole.ADMIN).get("/console/admin/", follow=True).status_code == 403
    with schema_context("public"):
        boss = vendor_user(None, "boss", superuser=True)
    client = Client(HTTP_HOST=VENDOR_HOST)
    from tests.factories import login_as

    login_as(client, boss, "public")
    assert client.get("/console/admin/").status_code == 200


def test_django_admin_lists_public_schema_models_only(db: None) -> None:
    from django.conf import settings
    from django.contrib import admin

    public_apps = {label.rsplit(".", 1)[-1] for label in settings.SHARED_APPS}
    tenant_only = {label.rsplit(".", 1)[-1] for label in settings.TENANT_APPS} - public_apps
    registered = {model._meta.app_label for model in admin.site._registry}
    assert registered, "nothing registered"
    assert not registered & tenant_only, registered & tenant_only


def test_the_demo_has_a_login_for_each_console_role(db: None) -> None:
    from madoguchi.demo import DEMO_PASSWORD, demo_setup
    from tests.factories import totp_code

    logins = {login.username: login for login in demo_setup()}
    for username, role in (("vendor-operator", VendorRole.OPERATOR), ("vendor-support", VendorRole.SUPPORT)):
        login = logins[username]
        with schema_context("public"):
            from apps.security.models import User

            assert vendor_role(User.objects.get(username=username)) == role
        client = Client(HTTP_HOST=VENDOR_HOST)
        client.post("/accounts/login/", {"login": username, "password": DEMO_PASSWORD})
        client.post("/accounts/2fa/authenticate/", {"code": totp_code(login.totp_secret)})
        assert client.get("/console/").status_code == 200
    assert len(demo_setup()) == len(logins)  # idempotent
