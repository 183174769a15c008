"""Issue 10, item 6 (and the walk that checked it): an address typed or bookmarked with a 個人番号 in it.

Searches are posted and shown at an opaque id, so no page of ours makes such an address; but pages copy their own
query string into links (the card list's state links, the audit log's CSV link, the language switch's `next` on
every page), so an address holding the number was echoed back into the page. It is now refused with a 400 before
any view runs, on every host, and the page repeats no part of it.
"""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest
from django.test import Client

from apps.security.models import Role
from tenants.models import Municipality
from tests.factories import role_client

SPELLINGS = ["123456789018", "1234-5678-9018", "1234 5678 9018", "１２３４５６７８９０１８"]


def _echoed(body: str) -> bool:
    forms = {form for number in SPELLINGS for form in (number, quote(number), quote_plus(number))}
    return any(form in body for form in forms)


@pytest.mark.parametrize("number", SPELLINGS)
def test_a_staff_address_with_a_number_is_refused_and_not_echoed(city: Municipality, number: str) -> None:
    supervisor = role_client(city, Role.SUPERVISOR)
    for path, params in [
        ("/staff/cards/", {"q": number, "state": "notice_mailed"}),
        ("/staff/audit/", {"actor": number}),
        ("/staff/counter/", {"q": number}),
    ]:
        response = supervisor.get(path, params)
        assert response.status_code == 400, path
        body = response.content.decode()
        assert "個人番号を含むアドレスは開けません" in body
        assert not _echoed(body), path


def test_a_resident_address_with_a_number_is_refused_in_the_visitors_language(city_client: Client) -> None:
    response = city_client.get("/book/", {"note": "1234-5678-9018"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    body = response.content.decode()
    assert "Individual Number" in body
    assert not _echoed(body)
    assert city_client.get("/n/123456789018").status_code == 400
    assert city_client.get("/", {"123456789018": ""}).status_code == 400


def test_the_vendor_host_refuses_it_too(city: Municipality) -> None:
    response = Client(HTTP_HOST="localhost").get("/", {"q": "123456789018"})
    assert response.status_code == 400
    assert not _echoed(response.content.decode())


def test_numbers_that_are_not_an_individual_number_pass(city_client: Client) -> None:
    # 12 digits with a wrong check digit, and 13 digits: ordinary values, never searched inside.
    assert city_client.get("/book/", {"ref": "123456789012"}).status_code == 200
    assert city_client.get("/book/", {"ref": "1234567890181"}).status_code == 200


def test_a_hold_id_whose_digits_line_up_like_a_number_is_not_refused(city_client: Client) -> None:
    """Our own ids (UUIDs in hold and booking addresses) are not typed input: about one random id in three thousand
    has a group of 12 digits (or 8 + 4) that passes the check digit, and must still open."""
    for uuid_like in ("5f0c1a2b-1c2d-4e5f-9a0b-123456789018", "12345678-9018-4e5f-9a0b-abcdefabcdef"):
        response = city_client.get(f"/book/hold/{uuid_like}/")
        assert response.status_code != 400
        assert "個人番号を含むアドレスは開けません" not in response.content.decode()
    # The same digits typed as a value are still refused.
    assert city_client.get("/book/", {"x": "9a0b-123456789018"}).status_code == 400
