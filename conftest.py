"""Test harness: a test database with the vendor tenant and two cities, created once per session.

Every test that touches tenant data gets `city` (上尾市) and `other_city` (桶川市) and asserts the other sees
nothing. Cities are cloned from the template schema, so the fixtures cost well under a second each.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from apps.security.models import AllowedNetwork
from tenants.db import use_public_schema
from tenants.models import Municipality
from tenants.services import MunicipalityInput, municipality_create, public_tenant_ensure, template_ensure

# A namespace of this run in the cache: with Redis (REDIS_URL) the cache outlives each test's rolled-back
# transaction, so every test's keys (lockout and rate-limit counters, cached network lists) are removed after it.
# Child processes (worker, test server) inherit it through the environment.
CACHE_PREFIX = f"test{uuid.uuid4().hex[:10]}"
os.environ["MADOGUCHI_CACHE_PREFIX"] = CACHE_PREFIX
settings.CACHES["default"]["KEY_PREFIX"] = CACHE_PREFIX

PUBLIC_HOST = "localhost"
LOOPBACK = ("127.0.0.0/8", "::1/128")
OUTSIDE_ADDRESS = "203.0.113.9"
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
def django_db_setup(
    request: pytest.FixtureRequest, django_test_environment: None, django_db_blocker: Any
) -> Iterator[None]:
    """The test database, always (pytest-django makes one only when a collected test asks for `db`, and tests that
    need committed data, such as the worker and browser tests, must never reach the developer's database)."""
    from django.test.utils import setup_databases, teardown_databases

    verbosity = request.config.option.verbose
    with django_db_blocker.unblock():
        # django-stubs types `aliases` as a mapping; Django takes any collection of aliases.
        databases = setup_databases(verbosity=verbosity, interactive=False, aliases={"default"})  # type: ignore[arg-type]
        if not connection.settings_dict["NAME"].startswith("test_"):
            pytest.exit("refusing to run: the connection does not point at a test database", returncode=3)
        public_tenant_ensure(domains=[PUBLIC_HOST, "testserver"])
        template_ensure()
        for data in TEST_CITIES:
            municipality_create(data=data, domains=[f"{data.slug}.localhost"])
            with schema_context(data.slug):
                # The test client's address; tests of refusals come from 203.0.113.0/24 (TEST-NET-3).
                for cidr in LOOPBACK:
                    AllowedNetwork.objects.create(cidr=cidr, label="loopback")
    yield
    with django_db_blocker.unblock():
        use_public_schema()
        with connection.cursor() as cursor:
            # A worker or server process may still be closing its connection; it must not keep the DB alive.
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        teardown_databases(databases, verbosity=verbosity)


@pytest.fixture(autouse=True)
def _forget_shared_cache_between_tests() -> Iterator[None]:
    yield
    if "redis" in settings.CACHES["default"]["BACKEND"].lower():
        from django.core.cache import cache

        client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
        for key in client.scan_iter(match=f"*:{CACHE_PREFIX}:*", count=1000):
            client.delete(key)


@pytest.fixture(autouse=True)
def _public_schema_between_tests() -> Iterator[None]:
    yield
    if connection.connection is not None or connection.in_atomic_block:
        connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _default_language_for_each_test() -> Iterator[None]:
    # A request in English (the test client runs LocaleMiddleware in this thread) would otherwise leave English
    # active for the next test's services and their messages.
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


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
