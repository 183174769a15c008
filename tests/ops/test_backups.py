"""Per-city dumps and the restore check against the test database (pg_dump/pg_restore of the server's version)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from madoguchi.backups import Server, city_dump, complete_dumps, pg_binary, server_version_num
from tenants.models import Municipality

pytestmark = pytest.mark.slow


def _dump_both(tmp_path: Path, *, keep: int = 14) -> None:
    call_command(
        "city_dump", "--city", "ageo", "--city", "okegawa", "--dir", str(tmp_path), "--keep", str(keep)
    )


def _restore_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[bool, str]:
    try:
        call_command("restore_check", "--dir", str(tmp_path), "--timeout", "120")
    except CommandError as exc:
        return False, capsys.readouterr().out + str(exc)
    return True, capsys.readouterr().out


def test_dump_writes_a_manifest_per_city_and_the_restore_check_passes(
    city: Municipality, other_city: Municipality, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _dump_both(tmp_path)
    for slug in ("ageo", "okegawa"):
        dumps = complete_dumps(tmp_path / slug)
        assert len(dumps) == 1
        assert dumps[0].name.startswith(f"{slug}-")
        assert dumps[0].stat().st_size > 0
        manifest = json.loads(dumps[0].with_suffix(".json").read_text())
        assert manifest["schema"] == slug
        assert manifest["same_snapshot"] is True
        # The conftest gave each city two allowed networks (loopback v4 and v6).
        assert manifest["tables"]["security_allowednetwork"]["rows"] == 2
        assert len(manifest["tables"]["security_allowednetwork"]["md5"]) == 32
        assert not list((tmp_path / slug).glob("*.partial"))
    ok, out = _restore_check(tmp_path, capsys)
    assert ok, out
    assert "ageo" in out
    assert "okegawa" in out
    assert "FAILED" not in out


def test_a_dump_holds_only_its_own_city(city: Municipality, other_city: Municipality, tmp_path: Path) -> None:
    result = city_dump(city, directory=tmp_path)
    server = Server.from_settings()
    scratch = "madoguchi_backups_test_only_one_city"
    pg_restore = pg_binary("pg_restore", server_version_num(server) // 10000)
    with server.connect(autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {scratch} TEMPLATE template0")
        try:
            subprocess.run(
                [str(pg_restore), "--no-owner", "--exit-on-error", f"--dbname={scratch}", str(result.dump)],
                env=server.env(scratch),
                check=True,
                capture_output=True,
                timeout=120,
            )
            with server.connect(scratch) as conn:
                schemas = {
                    row[0]
                    for row in conn.execute("SELECT table_schema FROM information_schema.tables").fetchall()
                }
            assert "ageo" in schemas
            assert "okegawa" not in schemas
            assert "public" not in schemas
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")


def test_retention_keeps_the_newest(city: Municipality, tmp_path: Path) -> None:
    first = city_dump(city, directory=tmp_path, keep=2)
    second = city_dump(city, directory=tmp_path, keep=2)
    third = city_dump(city, directory=tmp_path, keep=2)
    assert third.removed == [first.dump]
    assert complete_dumps(tmp_path / "ageo") == [second.dump, third.dump]
    assert not first.dump.exists()
    assert not first.manifest.exists()


def test_a_tampered_manifest_fails_the_restore_check_with_the_table_named(
    city: Municipality, other_city: Municipality, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _dump_both(tmp_path)
    manifest_path = complete_dumps(tmp_path / "okegawa")[-1].with_suffix(".json")
    manifest = json.loads(manifest_path.read_text())
    manifest["tables"]["security_allowednetwork"]["rows"] = 3
    manifest_path.write_text(json.dumps(manifest))
    ok, out = _restore_check(tmp_path, capsys)
    assert not ok
    assert "table security_allowednetwork: 3 rows in the manifest, 2 restored" in out
    assert "restore check failed for: okegawa" in out


def test_a_changed_dump_file_fails_the_restore_check(
    city: Municipality, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = city_dump(city, directory=tmp_path)
    with result.dump.open("ab") as handle:
        handle.write(b"x")
    ok, out = _restore_check(tmp_path, capsys)
    assert not ok
    assert "differs from the one the manifest describes" in out


def test_no_scratch_database_is_left_behind(
    city: Municipality, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    city_dump(city, directory=tmp_path)
    ok, out = _restore_check(tmp_path, capsys)
    assert ok, out
    with Server.from_settings().connect(autocommit=True) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'madoguchi\\_restore\\_check\\_%'"
        ).fetchone()
    assert left == (0,)


def test_the_server_is_read_from_a_socket_directory_given_as_an_option(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """postgresql://postgres@/madoguchi?host=/run/pg (make prod-local's embedded server): the dumps must connect to
    that socket, not to libpq's default."""
    from types import SimpleNamespace

    from madoguchi import backups

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
