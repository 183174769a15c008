"""Every tenant-owned table lives in each city's own schema and nowhere shared: a second city's queries cannot
reach it, whatever the app. Behaviour per table (another city sees, changes and counts none of it) is tested in
each app's tests; this walks every model so that a new one cannot slip into the public schema."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from tenants.models import Municipality

SHARED = {label.split(".")[-1] for label in settings.SHARED_APPS}


def _tables(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def test_every_tenant_table_is_in_each_city_and_not_in_public(
    city: Municipality, other_city: Municipality
) -> None:
    tenant_only = [
        model
        for label in settings.TENANT_APPS
        for model in apps.get_app_config(label.split(".")[-1]).get_models()
        if label.split(".")[-1] not in SHARED and not model._meta.proxy and model._meta.managed
    ]
    names = {model._meta.db_table for model in tenant_only}
    assert {"issuance_card", "issuance_cardevent", "booking_reservation", "booking_slot"} <= names
    public, ageo, okegawa = _tables("public"), _tables(city.schema_name), _tables(other_city.schema_name)
    assert names <= ageo
    assert names <= okegawa
    assert not names & public


def test_a_city_counts_none_of_another_citys_rows_in_any_tenant_table(
    city: Municipality, other_city: Municipality
) -> None:
    from tests.factories import make_card

    with schema_context(city.schema_name):
        make_card()
    with schema_context(other_city.schema_name), connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        (path,) = cursor.fetchone()
        assert city.schema_name not in path
        from apps.issuance.models import Card

        assert Card.objects.count() == 0
