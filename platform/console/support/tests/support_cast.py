"""The cast of the support tests: ageo's supervisor, a vendor support user, grants and entering a city."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.security.actors import Actor
from apps.security.audit_models import AuditEvent
from apps.security.models import Role
from console.access import VendorRole
from console.support import services
from console.support.models import SupportGrant
from console.tests.vendor import VENDOR_HOST, vendor_user
from tenants.models import Municipality
from tests.factories import UserFactory, login_as, with_totp


def supervisor_of(city: Municipality, username: str = "") -> Any:
    with schema_context(city.schema_name):
        user = UserFactory(username=username or f"{city.slug}-boss", role=Role.SUPERVISOR)
        with_totp(user)
    return user


def signed_in(city: Municipality, user: Any, **defaults: str) -> Client:
    client = Client(HTTP_HOST=f"{city.slug}.localhost", **defaults)
    login_as(client, user, city.schema_name)
    return client


def vendor_support(username: str = "vsup") -> tuple[Any, Client]:
    user = vendor_user(VendorRole.SUPPORT, username)
    client = Client(HTTP_HOST=VENDOR_HOST)
    login_as(client, user, "public")
    return user, client


def grant(
    city: Municipality,
    supervisor: Any,
    vendor: Any,
    *,
    scope: str = "booking",
    minutes: int = 60,
    now: datetime | None = None,
) -> SupportGrant:
    with schema_context(city.schema_name):
        return services.grant_create(
            actor=Actor.of_user(supervisor),
            municipality=city,
            grantee_id=vendor.pk,
            scope=scope,
            reason="問い合わせ 123 の調査",
            duration=timedelta(minutes=minutes),
            now=now or timezone.now(),
        )


def enter_path(vendor_client: Client, grant_id: int) -> str:
    """The console's "enter": the path on the city's host it redirects to (with the one-time token)."""
    response = vendor_client.post(f"/console/support/{grant_id}/enter/")
    assert response.status_code == 302, response.status_code
    location = response["Location"]
    assert location.startswith("http://ageo.localhost/support/enter/") or "/support/enter/" in location
    return "/" + location.split("/", 3)[3]


def entered(city: Municipality, vendor_client: Client, grant_id: int, **defaults: str) -> Client:
    """A browser on the city's host that followed the console's redirect."""
    client = Client(HTTP_HOST=f"{city.slug}.localhost", **defaults)
    response = client.get(enter_path(vendor_client, grant_id))
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def actions(schema: str, target: str) -> list[str]:
    with schema_context(schema):
        return list(
            AuditEvent.objects.filter(target=target).order_by("sequence").values_list("action", flat=True)
        )
