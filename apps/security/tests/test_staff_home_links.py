"""The staff menu offers each role exactly the pages it may open: every link works for whoever sees it."""

from __future__ import annotations

import re

import pytest

from apps.security.models import Role
from tenants.models import Municipality
from tests.factories import role_client


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.STAFF, Role.AUDITOR])
def test_every_menu_link_opens_for_the_role_that_sees_it(city: Municipality, role: Role) -> None:
    client = role_client(city, role, f"menu-{role.value}")
    menu = client.get("/staff/").content.decode()
    block = menu.split('<ul class="link-list">', 1)[1].split("</ul>", 1)[0]
    links = re.findall(r'href="([^"]+)"', block)
    assert links
    for link in links:
        assert client.get(link).status_code == 200, link
    if role == Role.STAFF:
        assert "/staff/counter/" in links
        assert "/staff/cards/import/" not in links  # supervisors' work
    if role == Role.AUDITOR:
        assert "/staff/reports/" in links
        assert "/staff/counter/" not in links
