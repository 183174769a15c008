"""Test harness: a test database with the vendor tenant and two cities, created once per session.

Every test that touches tenant data gets `city` (上尾市) and `other_city` (桶川市) and asserts the other sees
nothing. Cities are cloned from the template schema, so the fixtures cost well under a second each.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from tenants.models import Municipality
from tenants.services import MunicipalityInput, municipality_create, public_tenant_ensure, template_ensure

PUBLIC_HOST = "localhost"
TEST_CITIES = [
    MunicipalityInput(
        slug="ageo",
        lg_code="112194",
        name_ja="上尾市",
        name_en="Ageo City",
        prefecture="埼玉県",
        contact_phone="048-775-5111",
    ),
    MunicipalityInput(
        slug="okegawa", lg_code="112216", name_ja="桶川市", name_en="Okegawa City", prefecture="埼玉県"
    ),
]


def host_of(city: Municipality) -> str:
    return f"{city.slug}.localhost"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> None:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        public_tenant_ensure(domains=[PUBLIC_HOST, "testserver"])
        template_ensure()
        for data in TEST_CITIES:
            municipality_create(data=data, domains=[f"{data.slug}.localhost"])


@pytest.fixture(autouse=True)
def _public_schema_between_tests() -> Iterator[None]:
    yield
    if connection.connection is not None or connection.in_atomic_block:
        connection.set_schema_to_public()


@pytest.fixture
def city(db: None) -> Municipality:
    return Municipality.objects.get(slug="ageo")


@pytest.fixture
def other_city(db: None) -> Municipality:
    return Municipality.objects.get(slug="okegawa")


@pytest.fixture
def city_client(city: Municipality) -> Client:
    return Client(HTTP_HOST=host_of(city))


@pytest.fixture
def other_city_client(other_city: Municipality) -> Client:
    return Client(HTTP_HOST=host_of(other_city))


@pytest.fixture
def public_client(db: None) -> Client:
    return Client(HTTP_HOST=PUBLIC_HOST)


@pytest.fixture
def in_city(city: Municipality) -> Iterator[Municipality]:
    """Run the test body inside the city's schema."""
    with schema_context(city.schema_name):
        yield city
