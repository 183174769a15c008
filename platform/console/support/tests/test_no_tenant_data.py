"""Vendor staff see no resident data without a grant: no console or admin page shows a city's residents."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import schema_context

from console.access import VendorRole
from console.support.tests.support_cast import grant, supervisor_of, vendor_support
from console.tests.vendor import VENDOR_HOST, vendor_user
from tenants.models import Municipality
from tests.factories import CardFactory, login_as

RESIDENT = "居住者 秘密子"
SIGN_OUT = ("/console/logout/",)


def _console_pages(patterns: list[URLPattern | URLResolver], prefix: str = "") -> list[str]:
    found: list[str] = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += _console_pages(pattern.url_patterns, route)
        elif "<" not in route and "(" not in route and route.startswith("console/"):
            found.append("/" + re.sub(r"[\^$\\]", "", route))
    return found


def test_no_console_page_shows_a_residents_name(city: Municipality) -> None:
    with schema_context(city.schema_name):
        CardFactory(name=RESIDENT)
    vendor, _console = vendor_support()
    grant(city, supervisor_of(city), vendor)  # even with a grant, the console itself shows none
    admin = Client(HTTP_HOST=VENDOR_HOST)
    login_as(admin, vendor_user(VendorRole.ADMIN, "vadmin", superuser=True), "public")
    pages = [
        p for p in _console_pages(get_resolver("madoguchi.urls_public").url_patterns) if p not in SIGN_OUT
    ]
    assert "/console/support/" in pages
    assert "/console/" in pages
    for path in pages:
        response = admin.get(path)
        assert response.status_code < 500, path
        assert RESIDENT not in response.content.decode(errors="replace"), path
