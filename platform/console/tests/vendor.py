"""Vendor users and signed-in clients on the vendor host, for the console's tests (every console feature's)."""

from __future__ import annotations

from django.test import Client
from django_tenants.utils import schema_context

from apps.security.models import User
from console.access import VendorRole
from tests.factories import UserFactory, login_as, with_totp

VENDOR_HOST = "localhost"


def vendor_user(role: VendorRole | None, username: str = "", *, superuser: bool = False) -> User:
    """A vendor account in the public schema with `role` (None: no role) and an authenticator app."""
    from console.vendor_users import vendor_groups_ensure

    with schema_context("public"):
        groups = vendor_groups_ensure()
        name = username or f"vendor-{role.value if role else 'none'}{'-su' if superuser else ''}"
        user = UserFactory(username=name, is_staff=True, is_superuser=superuser)
        if role is not None:
            user.groups.add(groups[role])
        with_totp(user)
    return user


def vendor_client(role: VendorRole | None, username: str = "", **defaults: str) -> Client:
    """A client on the vendor host signed in (password and second factor) as a new vendor user of `role`."""
    client = Client(HTTP_HOST=VENDOR_HOST, **defaults)
    login_as(client, vendor_user(role, username), "public")
    return client
