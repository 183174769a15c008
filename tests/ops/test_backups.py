"""Per-city dumps in batches and the restore check against the test database (pg_dump/pg_restore of its version).

One pg_dump per batch of cities (`-n a -n b ...`); each city restores alone from its batch's archive and matches
its manifest; cities created while a run goes are dumped too; retention keeps each city's newest dumps.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from madoguchi import backups
from madoguchi.backups import (
    Server,
    Target,
    complete_batches,
    dump_cities,
    pg_binary,
    plan_batches,
    scan_dumps,
    server_version_num,
    table_checksums,
)
from madoguchi.restore import city_restore_list
from tenants.db import use_public_schema
from tenants.models import Municipality
from tenants.services import MunicipalityInput, municipality_create

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def third_city(django_db_setup: None, django_db_blocker: Any) -> Iterator[Municipality]:
    """A committed third city (pg_dump, in another process, sees only committed rows)."""
    with django_db_blocker.unblock():
        city = municipality_create(
            data=MunicipalityInput(
                slug="kounosu", lg_code="112178", name_ja="鴻巣市", name_en="Konosu City", prefecture="埼玉県"
            ),
            domains=["kounosu.localhost"],
        )
        yield city
        use_public_schema()
        if Municipality.objects.filter(pk=city.pk).exists():
            city.delete(force_drop=True)


def _restore_check(tmp_path: Path, capsys: pytest.CaptureFixture[str], *city: str) -> tuple[bool, str]:
    args = [arg for slug in city for arg in ("--city", slug)]
    try:
        call_command("restore_check", "--dir", str(tmp_path), "--timeout", "120", *args)
    except CommandError as exc:
        return False, capsys.readouterr().out + str(exc)
    return True, capsys.readouterr().out


def test_one_batch_of_three_cities_restores_each_city_alone_with_equal_checksums(
    city: Municipality, other_city: Municipality, third_city: Municipality, tmp_path: Path
) -> None:
    trio = [city, other_city, third_city]
    result = dump_cities(trio, directory=tmp_path, batch_size=3)
    assert result.batches == 1
    assert not result.failed
    assert complete_batches(tmp_path) == [result.run / "batch-0001.dump"]
    manifest = json.loads((result.run / "batch-0001.json").read_text())
    assert sorted(manifest["cities"]) == ["ageo", "kounosu", "okegawa"]
    assert manifest["same_snapshot"] is True
    # The conftest gave each city two allowed networks (loopback v4 and v6).
    assert manifest["cities"]["ageo"]["tables"]["security_allowednetwork"]["rows"] == 2
    assert not list(tmp_path.rglob("*.partial"))

    server = Server.from_settings()
    pg_restore = pg_binary("pg_restore", server_version_num(server) // 10000)
    archive = result.run / "batch-0001.dump"
    for dump in result.dumps:
        scratch = f"madoguchi_backups_test_{dump.slug}"
        with server.connect(autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {scratch} TEMPLATE template0")
            try:
                with city_restore_list(pg_restore, archive, dump.schema) as listing:
                    subprocess.run(
                        [
                            str(pg_restore),
                            "--no-owner",
                            "--exit-on-error",
                            f"--use-list={listing}",
                            f"--dbname={scratch}",
                            str(archive),
                        ],
                        env=server.env(scratch),
                        check=True,
                        capture_output=True,
                        timeout=120,
                    )
                with server.connect(scratch) as conn, conn.cursor() as cursor:
                    restored = table_checksums(cursor, dump.schema)
                    schemas = {
                        row[0]
                        for row in conn.execute(
                            "SELECT table_schema FROM information_schema.tables "
                            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                        ).fetchall()
                    }
            finally:
                admin.execute(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")
        assert schemas == {dump.schema}, f"{dump.slug} restored with {schemas}"
        assert restored == manifest["cities"][dump.slug]["tables"]
        assert len(restored) > 10


def test_the_restore_check_passes_over_a_batch(
    city: Municipality,
    other_city: Municipality,
    third_city: Municipality,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    call_command(
        "city_dump", "--city", "ageo", "--city", "okegawa", "--city", "kounosu", "--dir", str(tmp_path)
    )
    assert "3 cities in 1 batches" in capsys.readouterr().out
    ok, out = _restore_check(tmp_path, capsys)
    assert ok, out
    for slug in ("ageo", "okegawa", "kounosu"):
        assert f"{slug}  " in out
    assert "restore check passed for 3 cities" in out
    with Server.from_settings().connect(autocommit=True) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'madoguchi\\_restore\\_check\\_%'"
        ).fetchone()
    assert left == (0,), "a scratch database was left behind"


def test_batches_follow_the_batch_size_and_the_lock_table(
    city: Municipality, other_city: Municipality, third_city: Municipality, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = Server.from_settings()
    trio = [Target(m.slug, m.schema_name) for m in (city, other_city, third_city)]
    assert [len(b) for b in plan_batches(server, trio, 2)] == [2, 1]
    assert [len(b) for b in plan_batches(server, trio, 250)] == [3]
    # A lock table with room for one city's tables at a time: one city per batch, whatever the batch size.
    monkeypatch.setattr(backups, "LOCK_TABLE_SHARE", 60 / 6400)
    assert [len(b) for b in plan_batches(server, trio, 250)] == [1, 1, 1]


def test_a_city_created_while_the_run_goes_is_dumped_in_the_same_run(
    city: Municipality, other_city: Municipality, tmp_path: Path
) -> None:
    listings = iter([[city], [city, other_city], [city, other_city]])
    result = dump_cities(directory=tmp_path, batch_size=1, lister=lambda: next(listings))
    assert [d.slug for d in result.dumps] == ["ageo", "okegawa"]
    assert result.batches == 2
    assert not result.failed
    assert sorted(scan_dumps(tmp_path).per_city) == ["ageo", "okegawa"]


def test_retention_keeps_each_citys_newest_dumps(
    city: Municipality, other_city: Municipality, tmp_path: Path
) -> None:
    first = dump_cities([city, other_city], directory=tmp_path, keep=2)
    second = dump_cities([city, other_city], directory=tmp_path, keep=2)
    # A run of one city only: okegawa's newest two are still the first and the second runs'.
    third = dump_cities([city], directory=tmp_path, keep=2)
    assert third.removed == []
    fourth = dump_cities([city, other_city], directory=tmp_path, keep=2)
    assert fourth.removed == [first.run / "batch-0001.dump"]
    assert not first.run.exists(), "the emptied run directory stays"
    found = scan_dumps(tmp_path).per_city
    # ageo's dump in the second run stays with the batch okegawa still needs.
    assert [d.archive.parent for d in found["ageo"]] == [second.run, third.run, fourth.run]
    assert [d.archive.parent for d in found["okegawa"]] == [second.run, fourth.run]


def test_a_tampered_manifest_fails_the_restore_check_with_the_table_named(
    city: Municipality, other_city: Municipality, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = dump_cities([city, other_city], directory=tmp_path)
    manifest_path = result.run / "batch-0001.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["cities"]["okegawa"]["tables"]["security_allowednetwork"]["rows"] = 3
    manifest_path.write_text(json.dumps(manifest))
    ok, out = _restore_check(tmp_path, capsys)
    assert not ok
    assert "table security_allowednetwork: 3 rows in the manifest, 2 restored" in out
    assert "restore check failed for: okegawa" in out


def test_a_changed_dump_file_fails_the_restore_check(
    city: Municipality, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = dump_cities([city], directory=tmp_path)
    with result.dumps[0].archive.open("ab") as handle:
        handle.write(b"x")
    ok, out = _restore_check(tmp_path, capsys)
    assert not ok
    assert "differs from the one the manifest describes" in out


def test_the_server_is_read_from_a_socket_directory_given_as_an_option(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """postgresql://postgres@/madoguchi?host=/run/pg (make prod-local's embedded server): the dumps must connect to
    that socket, not to libpq's default."""
    from types import SimpleNamespace

    settings_dict = {
        "HOST": "",
        "PORT": "",
        "USER": "postgres",
        "NAME": "madoguchi",
        "OPTIONS": {"host": "/run/pg"},
    }
    # Not through the connection proxy: an attribute patched through it outlives the test in the wrapper.
    monkeypatch.setattr(backups, "connection", SimpleNamespace(settings_dict=settings_dict))
    server = Server.from_settings()
    assert server.host == "/run/pg"
    assert server.env()["PGHOST"] == "/run/pg"
