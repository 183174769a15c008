"""The attack targets are real: every listed form is shown where it is said to be, with the fields attacked.

A form that moved or renamed a field would otherwise leave the other modules posting payloads into nothing.
"""

from __future__ import annotations

import re

import pytest

from tenants.models import Municipality
from tests.security.targets import (
    FormTarget,
    Host,
    case_id,
    client_for,
    form_cases,
    paths,
    prepare,
    relax_for_attacks,
    routes,
)


@pytest.fixture(autouse=True)
def _attack_settings(settings):
    relax_for_attacks(settings)


@pytest.mark.parametrize(("host", "form"), form_cases(), ids=case_id)
def test_every_form_target_is_shown_with_its_fields(city: Municipality, host: Host, form: FormTarget) -> None:
    client = client_for(host)
    prepare(client, host, form)
    response = client.get(form.shown_at or form.path)
    assert response.status_code == 200, response.get("Location")
    body = response.content.decode()
    if form.shown_at:
        assert f'action="{form.path}"' in body, f"{form.name}: no form posts to {form.path}"
    for name in form.text_fields:
        assert re.search(rf'name="{re.escape(name)}"', body), f"{form.name}: no field {name!r}"


@pytest.mark.parametrize("host", ["city", "public"])
def test_every_route_has_a_concrete_path(host: Host) -> None:
    assert len(paths(host)) == len(routes(host)), "add the regex route's example to targets.ROUTE_EXAMPLES"
