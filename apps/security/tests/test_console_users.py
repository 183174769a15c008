"""Vendor console: accounts are deactivated, never deleted (deleting one on the vendor host was a 500)."""

from __future__ import annotations

from django.test import Client
from django_tenants.utils import schema_context

from apps.security.models import User
from tenants.models import Municipality
from tests.factories import UserFactory, login_as, with_totp


def test_an_account_cannot_be_deleted_from_the_console_but_can_be_deactivated(city: Municipality) -> None:
    with schema_context("public"):
        root: User = UserFactory.create(username="vendor-root", is_staff=True, is_superuser=True)
        with_totp(root)
        other: User = UserFactory.create(username="vendor-ops", is_staff=True)
    console = login_as(Client(HTTP_HOST="localhost"), root, "public")
    assert console.get(f"/console/admin/security/user/{other.pk}/delete/").status_code == 403
    listing = console.post(
        "/console/admin/security/user/", {"action": "delete_selected", "_selected_action": [other.pk]}
    )
    assert listing.status_code in (200, 302)  # the action is not offered: nothing happens
    with schema_context("public"):
        assert User.objects.filter(pk=other.pk).exists()
    page = console.get(f"/console/admin/security/user/{other.pk}/change/")
    assert page.status_code == 200
    assert 'name="is_active"' in page.content.decode()
