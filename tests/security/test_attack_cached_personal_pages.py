"""A shared counter PC's browser cache and back button must not keep staff pages with residents' data, and every
scrollable table can be reached and scrolled with the keyboard (WCAG 2.1.1)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from apps.security.models import Role
from tenants.models import Municipality
from tests.factories import role_client

TEMPLATES = Path(settings.BASE_DIR) / "frontend" / "templates"


@pytest.mark.parametrize(
    "path", ["/staff/", "/staff/booking/day/", "/staff/cards/", "/staff/counter/", "/accounts/2fa/"]
)
def test_staff_pages_with_personal_data_are_never_stored(city: Municipality, path: str) -> None:
    client = role_client(city, Role.SUPERVISOR)
    response = client.get(path)
    assert response.status_code in (200, 302)
    assert response["Cache-Control"] == "no-store"


def test_the_login_page_and_refusals_are_not_stored_either(city_client: Client) -> None:
    assert city_client.get("/accounts/login/")["Cache-Control"] == "no-store"
    refused = city_client.get("/staff/", REMOTE_ADDR="203.0.113.9")
    assert refused.status_code == 403
    assert refused["Cache-Control"] == "no-store"


def test_resident_pages_keep_their_own_caching(city_client: Client) -> None:
    response = city_client.get("/")
    assert response.status_code == 200
    assert response.get("Cache-Control") != "no-store"


_WRAP = re.compile(r"<div\b[^>]*\bclass=\"[^\"]*\btable-wrap\b[^\"]*\"[^>]*>")


def test_every_scrollable_table_wrapper_is_keyboard_focusable_and_named() -> None:
    wrappers = [
        (path, tag)
        for path in TEMPLATES.rglob("*.html")
        for tag in _WRAP.findall(path.read_text(encoding="utf-8"))
    ]
    assert len(wrappers) > 20
    unreachable = [
        f"{path.relative_to(TEMPLATES)}: {tag}"
        for path, tag in wrappers
        if 'tabindex="0"' not in tag
        or 'role="region"' not in tag
        or not ("aria-labelledby=" in tag or "aria-label=" in tag)
    ]
    assert unreachable == []
