"""Offboarding: a suspended or offboarding city is deleted only after a final dump that restores as dumped."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client, override_settings
from django_tenants.utils import schema_context

from apps.security.audit_models import AuditEvent
from madoguchi.backups import BackupError, read_batch
from madoguchi.management.commands import city_offboard
from tenants.db import use_public_schema
from tenants.models import Domain, Municipality
from tenants.services import MunicipalityInput, municipality_create, municipality_set_status

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def leaving_city(django_db_setup: None, django_db_blocker: Any) -> Iterator[Municipality]:
    """A committed city of its own (pg_dump, in another process, sees only committed rows)."""
    with django_db_blocker.unblock():
        city = municipality_create(
            data=MunicipalityInput(
                slug="kitamoto",
                lg_code="112330",
                name_ja="北本市",
                name_en="Kitamoto City",
                prefecture="埼玉県",
            ),
            domains=["kitamoto.localhost"],
        )
        yield city
        use_public_schema()
        if Municipality.objects.filter(pk=city.pk).exists():
            city.delete(force_drop=True)


def _schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [name])
        return cursor.fetchone() is not None


def test_an_active_city_or_a_wrong_confirmation_is_refused_and_nothing_is_dumped(
    leaving_city: Municipality, db: None, tmp_path: Path
) -> None:
    with override_settings(BACKUP_DIR=str(tmp_path)):
        with pytest.raises(CommandError, match="kitamoto is active: only a suspended or offboarding city"):
            call_command("city_offboard", "kitamoto", "--confirm", "kitamoto")
        with pytest.raises(CommandError, match="--confirm must repeat"):
            call_command("city_offboard", "kitamoto", "--confirm", "ageo")
    assert not list(tmp_path.iterdir())
    assert _schema_exists("kitamoto")


def test_a_suspended_city_passes_the_status_check_and_a_failed_final_dump_deletes_nothing(
    leaving_city: Municipality, db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(municipality: Municipality) -> None:
        raise BackupError(f"{municipality.slug}: could not write the dump: No space left on device")

    monkeypatch.setattr(city_offboard, "export_city", no_space)
    municipality_set_status(municipality=leaving_city, status=Municipality.Status.SUSPENDED)
    with (
        override_settings(BACKUP_DIR=str(tmp_path)),
        pytest.raises(CommandError, match="final dump failed, nothing deleted: kitamoto: could not write"),
    ):
        call_command("city_offboard", "kitamoto", "--confirm", "kitamoto")
    assert _schema_exists("kitamoto")
    assert Municipality.objects.filter(slug="kitamoto").exists()


def test_an_offboarding_city_is_dumped_checked_then_deleted_and_the_others_stay(
    leaving_city: Municipality, city: Municipality, db: None, tmp_path: Path
) -> None:
    with schema_context("kitamoto"):
        tables_before = connection.introspection.table_names()
    municipality_set_status(municipality=leaving_city, status=Municipality.Status.OFFBOARDING)
    out = StringIO()
    with override_settings(BACKUP_DIR=str(tmp_path)):
        call_command("city_offboard", "kitamoto", "--confirm", "kitamoto", stdout=out)
    text = out.getvalue()
    assert "restore check: ok" in text
    assert "kitamoto deleted" in text
    # The final export, one city alone, stays with its manifest outside the nightly runs' retention.
    finals = list((tmp_path / "offboarded").glob("*/kitamoto.dump"))
    assert len(finals) == 1
    (final,) = read_batch(finals[0])
    assert final.slug == "kitamoto"
    assert len(final.tables) == len(tables_before)
    use_public_schema()
    assert not _schema_exists("kitamoto")
    assert not Municipality.objects.filter(slug="kitamoto").exists()
    assert not Domain.objects.filter(domain="kitamoto.localhost").exists()
    assert len(tables_before) > 10
    event = AuditEvent.objects.get(action="city.offboarded")
    assert event.target == "municipality:kitamoto"
    assert final.label in event.summary
    # Its host is unknown now; another city is served as before.
    assert Client(HTTP_HOST="kitamoto.localhost").get("/").status_code == 404
    assert Client(HTTP_HOST="ageo.localhost").get("/").status_code == 200
    assert _schema_exists(city.schema_name)
