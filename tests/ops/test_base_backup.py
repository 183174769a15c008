"""The primary backup: a base backup (pg_basebackup, checked by pg_verifybackup) plus the archived WAL restores the
whole cluster to its latest archived state; retention; the archive script; the health report.

On a scratch primary that archives its WAL with ops/backup/archive-wal (tests/ops/scratch_cluster.py), through
`manage.py` as an operator runs it.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from madoguchi.backups import BackupError, Server
from madoguchi.base_backups import BaseBackup, complete_base_backups, prune_backups
from madoguchi.pitr import recovered_cluster
from tests.ops.scratch_cluster import (
    ARCHIVE_WAL,
    PrimaryCluster,
    book,
    booking_setup,
    codes,
    manage,
    primary_cluster,
    scratch_root,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(django_db_setup: None, django_db_blocker: Any) -> Iterator[tuple[PrimaryCluster, Path]]:
    with django_db_blocker.unblock():
        source = Server.from_settings()
    with scratch_root("madoguchi-test-base-") as root, primary_cluster(root / "primary", source) as primary:
        yield primary, root


@pytest.fixture(scope="module")
def backup(cluster: tuple[PrimaryCluster, Path]) -> BaseBackup:
    """One base backup taken as the operator takes it (manage.py base_backup), read-only for the tests."""
    primary, root = cluster
    taken = manage(primary, root / "app-data", "base_backup", "--dir", str(root / "base"))
    assert taken.returncode == 0, taken.stderr
    assert "verified by pg_verifybackup" in taken.stdout
    (only,) = complete_base_backups(root / "base")
    return only


def test_a_verified_base_backup_and_the_wal_restore_the_whole_cluster_to_the_latest_archived_state(
    cluster: tuple[PrimaryCluster, Path], backup: BaseBackup
) -> None:
    primary, root = cluster
    assert sorted(p.name for p in backup.path.iterdir()) == [
        "backup.json",
        "backup_manifest",
        "base.tar.gz",
        "pg_wal.tar.gz",
    ]
    assert backup.info["verified"] == "pg_verifybackup"
    slot = booking_setup(primary, "okegawa")
    book(primary, "okegawa", slot, ["PITR-W1", "PITR-W2", "PITR-W3"])
    primary.switch_and_wait_archived()

    status = manage(
        primary,
        root / "app-data",
        "backup_status",
        "--dir",
        str(root / "base"),
        "--wal-archive",
        str(primary.archive),
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert "backups ok" in status.stdout
    assert "archive_mode=on" in status.stdout

    with recovered_cluster(
        backup, primary.archive, target_time=None, dbname="madoguchi", user="postgres", work_dir=root
    ) as restored:
        with restored.server.connect(autocommit=True) as conn:
            rows = conn.execute(
                "SELECT code FROM okegawa.booking_reservation WHERE code LIKE 'PITR-W%' ORDER BY code"
            ).fetchall()
            cities = conn.execute("SELECT slug FROM public.tenants_municipality ORDER BY slug").fetchall()
        assert [r[0] for r in rows] == ["PITR-W1", "PITR-W2", "PITR-W3"]
        assert ("ageo",) in cities
        assert ("okegawa",) in cities
        assert "archive recovery complete" in restored.log_text()
    assert not list(root.glob("madoguchi-pitr-*")), "the scratch cluster's directory is left behind"
    assert codes(primary, "okegawa") == {"PITR-W1", "PITR-W2", "PITR-W3"}


def test_a_changed_file_in_a_base_backup_fails_verification(
    cluster: tuple[PrimaryCluster, Path], backup: BaseBackup
) -> None:
    primary, root = cluster
    copy = root / "damaged" / backup.name
    shutil.copytree(backup.path, copy)
    # Rewrite base.tar.gz with one file changed (same size: only the checksum can tell).
    unpacked = root / "unpacked"
    with tarfile.open(copy / "base.tar.gz") as tar:
        tar.extractall(unpacked, filter="data")
    version = unpacked / "PG_VERSION"
    version.write_text(version.read_text().replace("1", "9"))
    # Uncompressed (base.tar is read like base.tar.gz): gzip would cost most of this test's time.
    (copy / "base.tar.gz").unlink()
    with tarfile.open(copy / "base.tar", "w") as tar:
        for path in sorted(unpacked.iterdir()):
            tar.add(path, arcname=path.name)
    shutil.rmtree(unpacked)
    refused = manage(primary, root / "app-data", "base_backup", "--verify", str(copy))
    assert refused.returncode != 0
    assert "pg_verifybackup failed" in refused.stderr
    assert "PG_VERSION" in refused.stderr


def test_failing_archiving_and_a_missing_base_backup_raise_alerts(
    cluster: tuple[PrimaryCluster, Path],
) -> None:
    primary, root = cluster
    with primary.server().connect(autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET archive_command = 'false'")
        conn.execute("SELECT pg_reload_conf()")
        try:
            conn.execute("CREATE TABLE public.wal_filler AS SELECT generate_series(1, 1000) AS n")
            conn.execute("SELECT pg_switch_wal()")
            deadline = time.monotonic() + 30
            while True:
                failed = conn.execute("SELECT failed_count FROM pg_stat_archiver").fetchone()
                if failed and failed[0] > 0:
                    break
                assert time.monotonic() < deadline, "the archiver never failed"
                time.sleep(0.1)
            status = manage(
                primary,
                root / "app-data",
                "backup_status",
                "--dir",
                str(root / "nothing-here"),
                "--wal-archive",
                str(primary.archive),
            )
        finally:
            conn.execute("ALTER SYSTEM RESET archive_command")
            conn.execute("SELECT pg_reload_conf()")
            conn.execute("DROP TABLE IF EXISTS public.wal_filler")
    assert status.returncode != 0
    assert "ALERT: archiving is failing" in status.stdout
    assert "ALERT: no base backup in" in status.stdout


# --- Without a server --------------------------------------------------------------------------------------------


def _fake_backup(root: Path, stamp: str, start_wal: str) -> Path:
    path = root / stamp
    path.mkdir(parents=True)
    (path / "base.tar.gz").write_bytes(b"x")
    end = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=dt.UTC)
    info = {"start_wal": start_wal, "end_time": end.isoformat(), "files": {"base.tar.gz": 1}}
    (path / "backup.json").write_text(json.dumps(info))
    return path


def test_prune_keeps_the_newest_backups_and_the_wal_they_need(tmp_path: Path) -> None:
    base, archive = tmp_path / "base", tmp_path / "wal"
    archive.mkdir()
    first = _fake_backup(base, "20261201T021500.000000Z", "000000010000000000000003")
    second = _fake_backup(base, "20261202T021500.000000Z", "000000010000000000000005")
    third = _fake_backup(base, "20261203T021500.000000Z", "000000020000000000000007")
    (base / ".20261204T021500.000000Z.partial").mkdir()  # a backup being taken: not counted, not touched
    names = [f"00000001000000000000000{n}" for n in range(1, 7)] + [
        "000000010000000000000005.00000028.backup",
        "00000002.history",
        "000000020000000000000006",
        "000000020000000000000007",
    ]
    for name in names:
        (archive / name).write_bytes(b"w")

    result = prune_backups(directory=base, wal_archive=archive, keep=2)

    assert result.removed == [first]
    assert [b.path for b in result.kept] == [second, third]
    assert result.wal_cutoff == "000000010000000000000005"
    assert sorted(p.name for p in archive.iterdir()) == [
        "000000010000000000000005",
        "000000010000000000000005.00000028.backup",
        "000000010000000000000006",
        "00000002.history",
        "000000020000000000000006",
        "000000020000000000000007",
    ]
    assert result.wal_removed == 4
    assert (base / ".20261204T021500.000000Z.partial").is_dir()
    with pytest.raises(BackupError, match="at least 1"):
        prune_backups(directory=base, wal_archive=archive, keep=0)


def test_the_archive_script_never_overwrites_a_segment(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    segment, other = tmp_path / "seg", tmp_path / "other"
    segment.write_bytes(b"a" * 1000)
    other.write_bytes(b"b" * 1000)
    name = "000000010000000000000001"

    def run(source: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ARCHIVE_WAL), str(source), name, str(archive)], capture_output=True, text=True, timeout=30
        )

    assert run(segment).returncode == 0
    assert (archive / name).read_bytes() == segment.read_bytes()
    assert run(segment).returncode == 0, "a retry of the same segment must succeed"
    refused = run(other)
    assert refused.returncode == 1
    assert "exists and differs" in refused.stderr
    assert (archive / name).read_bytes() == segment.read_bytes()
    assert sorted(p.name for p in archive.iterdir()) == [name], "no temporary file is left"
