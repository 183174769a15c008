"""The 503 maintenance page as a resident sees it: the city's colours, name and phone, and a way back to the top
page when that page is up (a window of issuance alone), none when the window closes the top page too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.models import SiteAppearance
from console.maintenance.tests.helpers import decide, move_window, propose
from tenants.models import Municipality


def _in_progress(city: Municipality, modules: list[str]) -> None:
    proposal = propose([city], modules=modules)
    decide(city, proposal)
    move_window(proposal, timezone.now() - timedelta(minutes=10), hours=1)
    with schema_context(city.schema_name):
        cache.clear()


@pytest.fixture
def branded(city: Municipality) -> Municipality:
    Municipality.objects.filter(pk=city.pk).update(contact_phone="048-775-5111")
    with schema_context(city.schema_name):
        SiteAppearance.objects.update_or_create(pk=1, defaults={"primary_color": "#7a2e8c"})
        cache.clear()
    return Municipality.objects.get(pk=city.pk)


def test_an_issuance_window_answers_in_the_citys_colours_with_its_phone_and_the_way_to_the_top_page(
    branded: Municipality, city_client: Client
) -> None:
    _in_progress(branded, ["issuance"])
    page = city_client.get("/n/abc/")
    assert page.status_code == 503
    html = page.content.decode()
    assert branded.name_ja in html
    assert '<meta name="theme-color" content="#7a2e8c">' in html
    assert 'href="/theme.css?v=' in html
    assert city_client.get("/theme.css").content.decode().startswith(":root{--city-primary:#7a2e8c}")
    assert 'href="tel:0487755111">048-775-5111</a>' in html
    assert '<a class="button button--secondary" href="/">トップページへ戻る</a>' in html
    assert city_client.get("/").status_code == 200  # the link leads to a page that is up
    assert 'rel="icon" href="/static/img/favicon.svg"' in html  # no request for /favicon.ico


def test_a_booking_window_closes_the_top_page_so_the_page_offers_no_link_to_it(
    branded: Municipality, city_client: Client
) -> None:
    _in_progress(branded, ["booking"])
    page = city_client.get("/book/")
    assert page.status_code == 503
    html = page.content.decode()
    assert branded.name_ja in html
    assert "トップページへ戻る" not in html
    assert city_client.get("/").status_code == 503
