"""The restore check restores each batch archive into one scratch database (not one per city); a city at fault is
named and the others still pass; selected cities only; stale `.partial` files of a run killed outright go; the
nightly run keeps dumping offboarding cities."""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from madoguchi import restore
from madoguchi.backup_files import remove_stale_partials
from madoguchi.backups import Server, cities, dump_cities
from tenants.models import Municipality
from tenants.services import municipality_set_status

pytestmark = pytest.mark.slow


@pytest.fixture
def scratch_databases(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The scratch databases the restore check creates, in order."""
    made: list[str] = []
    original = restore._scratch_database

    def counting(server: Server) -> AbstractContextManager[str]:
        inner = original(server)

        class Recorded:
            def __enter__(self) -> str:
                name = inner.__enter__()
                made.append(name)
                return name

            def __exit__(self, *exc: object) -> None:
                inner.__exit__(*exc)  # type: ignore[arg-type]

        return Recorded()

    monkeypatch.setattr(restore, "_scratch_database", counting)
    return made


def _check(tmp_path: Path, capsys: pytest.CaptureFixture[str], *city: str) -> tuple[bool, str]:
    args = [arg for slug in city for arg in ("--city", slug)]
    try:
        call_command("restore_check", "--dir", str(tmp_path), "--timeout", "120", *args)
    except CommandError as exc:
        return False, capsys.readouterr().out + str(exc)
    return True, capsys.readouterr().out


def _no_scratch_left() -> bool:
    with Server.from_settings().connect(autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'madoguchi\\_restore\\_check\\_%'"
        ).fetchone()
    return row == (0,)


def test_one_scratch_database_per_batch_archive_and_every_city_reported(
    city: Municipality,
    other_city: Municipality,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    scratch_databases: list[str],
) -> None:
    dump_cities([city, other_city], directory=tmp_path, batch_size=2)  # one archive of two cities
    dump_cities([city], directory=tmp_path)  # ageo's newest is now alone in a second archive
    ok, out = _check(tmp_path, capsys)
    assert ok, out
    assert "restore check passed for 2 cities" in out
    assert len(scratch_databases) == 2, "one scratch database per batch archive"
    assert _no_scratch_left()


def test_selected_cities_only_and_a_city_at_fault_is_named_while_the_others_pass(
    city: Municipality,
    other_city: Municipality,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    scratch_databases: list[str],
) -> None:
    result = dump_cities([city, other_city], directory=tmp_path, batch_size=2)
    ok, out = _check(tmp_path, capsys, "okegawa")
    assert ok, out
    assert "restore check passed for 1 cities" in out
    assert "ageo" not in out

    # okegawa's part of the manifest names a schema the archive does not hold: the batch's restore fails, then each
    # city is restored alone: ageo passes, okegawa fails with the reason.
    manifest_path = result.run / "batch-0001.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["cities"]["okegawa"]["schema"] = "okegawa_gone"
    manifest_path.write_text(json.dumps(manifest))
    scratch_databases.clear()
    ok, out = _check(tmp_path, capsys)
    assert not ok
    assert "holds no schema okegawa_gone" in out
    assert "restore check failed for: okegawa" in out
    ageo_line = next(line for line in out.splitlines() if line.startswith("ageo "))
    assert " ok " in ageo_line
    assert len(scratch_databases) == 3  # the batch, then each city alone
    assert _no_scratch_left()


def _old_partial(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PGDMP half an archive")
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    return path


def test_the_next_run_removes_the_partial_files_a_killed_run_left_but_not_a_running_ones(
    city: Municipality, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    killed = _old_partial(tmp_path / "20261201T021500.000000Z" / ".batch-0001.dump.partial")
    manifest_half = _old_partial(tmp_path / "20261201T021500.000000Z" / ".batch-0002.json.abc123.partial")
    final_half = _old_partial(tmp_path / "offboarded" / "20261201T030000.000000Z" / ".kitamoto.dump.partial")
    running = _old_partial(tmp_path / "20261201T040000.000000Z" / ".batch-0001.dump.partial")
    with running.open("rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # another process's dump in progress
        call_command("city_dump", "--city", "ageo", "--dir", str(tmp_path))
        out = capsys.readouterr().out
    for path in (killed, manifest_half, final_half):
        assert not path.exists()
        assert f"removed the stale partial file {path}" in out
        assert str(path) in caplog.text
    assert not killed.parent.exists(), "the killed run's emptied directory stays"
    assert running.exists()
    running.unlink()  # that other run ends
    # A partial file newer than the run's start is left alone too (another run started after this one).
    fresh = tmp_path / "20261201T050000.000000Z" / ".batch-0001.dump.partial"
    fresh.parent.mkdir()
    fresh.write_bytes(b"PGDMP")
    assert remove_stale_partials(tmp_path, before=time.time() - 60) == []
    assert fresh.exists()


def test_the_restore_check_removes_stale_partial_files_too(
    city: Municipality, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dump_cities([city], directory=tmp_path)
    killed = _old_partial(tmp_path / "20261201T021500.000000Z" / ".batch-0001.dump.partial")
    ok, out = _check(tmp_path, capsys)
    assert ok, out
    assert f"removed the stale partial file {killed}" in out
    assert not killed.exists()


@pytest.fixture
def offboarding_okegawa(other_city: Municipality) -> Municipality:
    return municipality_set_status(municipality=other_city, status=Municipality.Status.OFFBOARDING)


def test_the_nightly_run_keeps_dumping_an_offboarding_city(
    city: Municipality, offboarding_okegawa: Municipality, tmp_path: Path
) -> None:
    assert "okegawa" in [m.slug for m in cities()]
    municipality_set_status(municipality=city, status=Municipality.Status.SUSPENDED)
    result = dump_cities(directory=tmp_path)
    dumped = {d.slug for d in result.dumps}
    assert "okegawa" in dumped
    assert "ageo" not in dumped
    assert not result.failed
