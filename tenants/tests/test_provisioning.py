"""Creating a city: schema, hosts and every app's defaults, in one step that leaves nothing behind on failure."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client, override_settings
from django_tenants.utils import schema_context, schema_exists

from apps.booking.models import SiteAppearance
from tenants.models import Domain, Municipality
from tenants.services import MunicipalityInput, municipality_create

KITAMOTO = MunicipalityInput(
    slug="kitamoto", lg_code="112330", name_ja="北本市", name_en="Kitamoto City", prefecture="埼玉県"
)


def test_create_municipality_command_makes_a_working_city(
    db: None, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command(
        "create_municipality",
        "kitamoto",
        "112330",
        "北本市",
        "Kitamoto City",
        "埼玉県",
        "--domain",
        "kitamoto.localhost",
        "--domain",
        "www.city.kitamoto.lg.jp",
    )
    assert "created kitamoto" in capsys.readouterr().out
    city = Municipality.objects.get(slug="kitamoto")
    assert city.schema_name == "kitamoto"
    assert set(Domain.objects.filter(tenant=city).values_list("domain", flat=True)) == {
        "kitamoto.localhost",
        "www.city.kitamoto.lg.jp",
    }
    with schema_context("kitamoto"):
        assert set(Group.objects.values_list("name", flat=True)) == {"supervisor", "staff", "auditor"}
        assert SiteAppearance.objects.count() == 1
    for host in ("kitamoto.localhost", "www.city.kitamoto.lg.jp"):
        assert "北本市" in Client(HTTP_HOST=host).get("/").content.decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Kita moto", "112330"], "半角英小文字"),
        (["kitamoto", "11233"], "6桁"),
        (["ageo", "999999"], "slug"),  # already exists
        (["kitamoto", "112194"], "lg_code"),  # Ageo's code
    ],
)
def test_bad_or_duplicate_identity_is_refused_and_nothing_is_created(
    city: Municipality, args: list[str], message: str
) -> None:
    before = set(Municipality.objects.values_list("slug", flat=True))
    with pytest.raises(CommandError, match=message):
        call_command("create_municipality", *args, "北本市", "Kitamoto", "埼玉県")
    assert set(Municipality.objects.values_list("slug", flat=True)) == before
    assert not schema_exists("kitamoto")


def test_a_host_already_used_by_another_city_is_refused(city: Municipality) -> None:
    with pytest.raises(ValidationError):
        municipality_create(data=KITAMOTO, domains=["ageo.localhost"])
    assert not Municipality.objects.filter(slug="kitamoto").exists()
    assert not schema_exists("kitamoto")


def test_new_city_starts_empty_and_sees_nothing_of_the_others(city: Municipality) -> None:
    with schema_context(city.schema_name):
        Group.objects.create(name="ageo-only")
    municipality_create(data=KITAMOTO, domains=["kitamoto.localhost"])
    with schema_context("kitamoto"):
        assert not Group.objects.filter(name="ageo-only").exists()


def _schema_shape(schema: str) -> dict[str, object]:
    """Tables, columns, constraints and indexes of a schema, with names that depend on the schema removed."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, data_type, is_nullable, "
            "regexp_replace(coalesce(column_default, ''), %s, '', 'g') "
            "FROM information_schema.columns WHERE table_schema = %s ORDER BY 1, 2",
            [f"{schema}\\.", schema],
        )
        columns = cursor.fetchall()
        cursor.execute(
            "SELECT conrelid::regclass::text, contype, pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = %s ORDER BY 1, 2, 3",
            [schema],
        )
        constraints = [(t.split(".")[-1], k, d.replace(f"{schema}.", "")) for t, k, d in cursor.fetchall()]
        cursor.execute(
            "SELECT tablename, regexp_replace(indexdef, 'INDEX \\S+ ON \\S+', 'INDEX ON') FROM pg_indexes "
            "WHERE schemaname = %s ORDER BY 1, 2",
            [schema],
        )
        indexes = cursor.fetchall()
        cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations ORDER BY 1, 2')
        migrations = cursor.fetchall()
    return {
        "columns": columns,
        "constraints": sorted(constraints),
        "indexes": indexes,
        "migrations": migrations,
    }


def test_a_cloned_city_has_the_same_schema_as_a_migrated_one(db: None) -> None:
    with override_settings(TENANT_CREATION="clone"):
        municipality_create(data=KITAMOTO, domains=["kitamoto.localhost"])
    with override_settings(TENANT_CREATION="migrate"):
        municipality_create(
            data=MunicipalityInput(
                slug="kounosu",
                lg_code="112178",
                name_ja="鴻巣市",
                name_en="Kounosu City",
                prefecture="埼玉県",
            ),
            domains=["kounosu.localhost"],
        )
    cloned, migrated = _schema_shape("kitamoto"), _schema_shape("kounosu")
    assert cloned["columns"], "the cloned schema has tables"
    for part in ("columns", "constraints", "indexes", "migrations"):
        assert cloned[part] == migrated[part], part
    with schema_context("kitamoto"):
        Group.objects.create(name="sequence-works")  # cloned sequences and defaults are usable


def test_template_schema_holds_no_city_data(db: None) -> None:
    with schema_context("city_template"):
        assert Group.objects.count() == 0
        assert SiteAppearance.objects.count() == 0
