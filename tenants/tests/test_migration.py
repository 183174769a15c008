"""Deploy migrations skip the cities that are up to date, found in one query, and migrate the rest."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test.utils import CaptureQueriesContext

from tenants.migration import expected_migrations, schemas_with_pending_migrations
from tenants.models import Municipality


def test_up_to_date_cities_need_nothing(city: Municipality, other_city: Municipality) -> None:
    assert schemas_with_pending_migrations(["public", "ageo", "okegawa", "city_template"]) == []


def test_the_check_costs_the_same_few_queries_for_any_number_of_cities(city: Municipality) -> None:
    expected = expected_migrations()
    with CaptureQueriesContext(connection) as one:
        schemas_with_pending_migrations(["ageo"], expected)
    with CaptureQueriesContext(connection) as three:
        schemas_with_pending_migrations(["ageo", "okegawa", "city_template"], expected)

    def reads(ctx: CaptureQueriesContext) -> list[str]:
        return [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith("SET search_path")]

    assert len(reads(one)) == len(reads(three)) == 2


def test_a_city_missing_a_migration_is_found(city: Municipality, other_city: Municipality) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM okegawa.django_migrations WHERE app = 'booking' AND name = '0001_initial'"
        )
    assert schemas_with_pending_migrations(["ageo", "okegawa"]) == ["okegawa"]


def test_a_schema_without_a_migration_table_is_pending(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA halfmade")
    assert schemas_with_pending_migrations(["halfmade", "ageo"]) == ["halfmade"]


@pytest.mark.django_db(transaction=False)
def test_deploy_migrates_only_the_city_that_needs_it(
    city: Municipality, other_city: Municipality, caplog: pytest.LogCaptureFixture
) -> None:
    # okegawa is one migration behind (as after a release that adds one): unapply booking's newest migration there.
    loader = MigrationLoader(connection)
    (leaf,) = loader.graph.leaf_nodes("booking")
    previous = next(parent for parent in loader.graph.node_map[leaf].parents if parent[0] == "booking")
    call_command(
        "migrate_schemas", "booking", previous[1], schema_name="okegawa", interactive=False, verbosity=0
    )
    assert schemas_with_pending_migrations(["ageo", "okegawa"]) == ["okegawa"]
    caplog.set_level("INFO", logger="tenants.migration")
    call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)
    assert "already up to date, skipped" in caplog.text
    assert schemas_with_pending_migrations(["ageo", "okegawa"]) == []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM okegawa.django_migrations WHERE app = %s AND name = %s", list(leaf)
        )
        assert cursor.fetchone() == (1,)
