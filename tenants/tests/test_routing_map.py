"""Host → city from each process's map: no query per request, and writes elsewhere seen within the poll bound.

"Another process" is a write that sends no signal (raw SQL, as another process's write looks to this one): this
process sees it at its next version check. Tests clear the map's timer (`ROUTES.expire()`) instead of sleeping.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tenants.models import Domain, Municipality
from tenants.routing import ROUTES, routes_changed
from tenants.services import municipality_set_status


def _elsewhere(sql: str, params: list[Any]) -> None:
    """A write by another process: the rows and the version, no signal and no local expiry."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.execute("UPDATE public.tenants_routingversion SET version = floor(random() * 9e18)::bigint")


def test_a_warm_lookup_runs_no_query(city: Municipality, settings: Any) -> None:
    settings.TENANT_ROUTES_POLL_SECONDS = 3600
    assert ROUTES.tenant_for("ageo.localhost") is not None
    with CaptureQueriesContext(connection) as queries:
        tenant = ROUTES.tenant_for("ageo.localhost")
        assert ROUTES.tenant_for("nowhere.localhost") is None
    assert tenant is not None
    assert tenant.schema_name == "ageo"
    assert tenant.domain_url == "ageo.localhost"
    assert len(queries) == 0


def test_a_check_after_the_bound_reads_only_the_version(city: Municipality) -> None:
    ROUTES.tenant_for("ageo.localhost")
    ROUTES.expire()
    with CaptureQueriesContext(connection) as queries:
        ROUTES.tenant_for("ageo.localhost")
    assert len(queries) == 0  # the version is read on the driver's cursor, outside the query log; no reload


def test_a_city_suspended_by_another_process_is_refused_after_the_next_check(
    city: Municipality, city_client: Client, settings: Any
) -> None:
    settings.TENANT_ROUTES_POLL_SECONDS = 3600
    assert city_client.get("/").status_code == 200
    _elsewhere("UPDATE public.tenants_municipality SET status = 'suspended' WHERE id = %s", [city.pk])
    assert city_client.get("/").status_code == 200  # within the bound: the map is not read again yet
    ROUTES.expire()  # the bound has passed
    assert city_client.get("/").status_code == 503
    assert city_client.get("/book/").status_code == 503


def test_a_host_added_by_another_process_routes_after_the_next_check(
    city: Municipality, settings: Any
) -> None:
    settings.TENANT_ROUTES_POLL_SECONDS = 3600
    client = Client(HTTP_HOST="www.ageo.localhost")
    assert client.get("/").status_code == 404
    _elsewhere(
        "INSERT INTO public.tenants_domain (domain, tenant_id, is_primary, kind) VALUES (%s, %s, false, 'resident')",
        ["www.ageo.localhost", city.pk],
    )
    ROUTES.expire()
    response = client.get("/")
    assert response.status_code == 200
    assert "上尾市" in response.content.decode()


def test_writes_in_this_process_take_effect_at_once(
    city: Municipality, city_client: Client, settings: Any
) -> None:
    settings.TENANT_ROUTES_POLL_SECONDS = 3600
    assert city_client.get("/").status_code == 200
    Domain.objects.create(domain="yoyaku.ageo.localhost", tenant=city, kind=Domain.Kind.RESIDENT)
    assert Client(HTTP_HOST="yoyaku.ageo.localhost").get("/").status_code == 200
    municipality_set_status(municipality=city, status=Municipality.Status.SUSPENDED)  # a queryset update
    assert city_client.get("/").status_code == 503
    municipality_set_status(municipality=city, status=Municipality.Status.ACTIVE)
    assert city_client.get("/").status_code == 200
    Municipality.objects.filter(pk=city.pk).update(name_ja="あげお市")
    routes_changed()  # what a service that writes with update() does, in its transaction
    assert "あげお市" in city_client.get("/").content.decode()


def test_a_rolled_back_write_is_forgotten(city: Municipality, city_client: Client, settings: Any) -> None:
    settings.TENANT_ROUTES_POLL_SECONDS = 3600

    class UndoError(Exception):
        pass

    try:
        with transaction.atomic():
            municipality_set_status(municipality=city, status=Municipality.Status.SUSPENDED)
            assert city_client.get("/").status_code == 503
            raise UndoError
    except UndoError:
        pass
    ROUTES.expire()  # a savepoint's rollback is seen at the next version check (the version went back too)
    assert city_client.get("/").status_code == 200
