"""Requests reach the city their host names; unknown and suspended hosts get a page that explains."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from tenants.models import Municipality
from tenants.services import municipality_set_status


def test_city_host_shows_the_city_in_japanese(city_client: Client) -> None:
    response = city_client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "上尾市" in body
    assert "桶川市" not in body
    assert response["Content-Language"] == "ja"


def test_each_city_host_shows_its_own_city(other_city_client: Client) -> None:
    body = other_city_client.get("/").content.decode()
    assert "桶川市" in body
    assert "上尾市" not in body


def test_public_host_is_the_vendor_site(public_client: Client) -> None:
    response = public_client.get("/")
    assert response.status_code == 200
    assert "上尾市" in response.content.decode()  # the vendor page lists the active cities


def test_unknown_host_gets_a_helpful_404(db: None) -> None:
    response = Client(HTTP_HOST="kasukabe.localhost").get("/some/page")
    assert response.status_code == 404
    body = response.content.decode()
    assert "kasukabe.localhost" in body
    assert "見つかりません" in body
    assert "Traceback" not in body


def test_unknown_host_page_in_english_for_an_english_browser(db: None) -> None:
    response = Client(HTTP_HOST="nowhere.localhost", HTTP_ACCEPT_LANGUAGE="en").get("/")
    assert response.status_code == 404
    assert "not found" in response.content.decode().lower()


def test_suspended_city_shows_a_notice_not_its_pages(city: Municipality, city_client: Client) -> None:
    municipality_set_status(municipality=city, status=Municipality.Status.SUSPENDED)
    response = city_client.get("/")
    assert response.status_code == 503
    assert "上尾市" in response.content.decode()
    login = city_client.get("/accounts/login/")
    assert login.status_code == 503


def test_city_admin_console_exists_only_on_the_public_host(
    city_client: Client, public_client: Client
) -> None:
    assert city_client.get("/console/").status_code == 404
    assert public_client.get("/console/").status_code == 302  # to the console's login


def test_vendor_page_lists_cities_in_constant_queries(public_client: Client) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tenants.services import MunicipalityInput, municipality_create

    def add_cities(first: int, count: int) -> None:
        for index in range(first, first + count):
            municipality_create(
                data=MunicipalityInput(
                    slug=f"extra{index}",
                    lg_code=f"9999{index:02d}",
                    name_ja=f"市{index}",
                    name_en=f"City {index}",
                    prefecture="埼玉県",
                ),
                domains=[f"extra{index}.localhost"],
            )

    def page_queries() -> tuple[int, str]:
        public_client.get("/")  # warm the caches the banner and routing use
        with CaptureQueriesContext(connection) as queries:
            body = public_client.get("/").content.decode()
        return len(queries), body

    add_cities(0, 2)
    few, _body = page_queries()
    add_cities(2, 6)
    many, body = page_queries()
    assert many == few
    assert "//extra7.localhost" in body


def test_the_operator_suspends_and_resumes_a_city_from_the_command_line(
    city: Municipality, city_client: Client, other_city_client: Client
) -> None:
    out = StringIO()
    call_command("city_status", city.slug, "suspended", stdout=out)
    assert f"{city.slug}: active -> suspended" in out.getvalue()
    assert city_client.get("/").status_code == 503
    assert other_city_client.get("/").status_code == 200  # the other city is untouched
    call_command("city_status", city.slug, stdout=out)
    assert f"{city.slug} (上尾市): suspended" in out.getvalue()
    call_command("city_status", city.slug, "active", stdout=out)
    assert city_client.get("/").status_code == 200
    with pytest.raises(CommandError, match="no city 'kasukabe'"):
        call_command("city_status", "kasukabe", "suspended")
