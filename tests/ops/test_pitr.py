"""One city restored to a point in time from a base backup and the WAL archive, the other city untouched.

On a scratch primary (tests/ops/scratch_cluster.py) that archives its WAL: a base backup, bookings in both cities,
the time T, more bookings in both, then `manage.py city_pitr --city ageo --target-time T --apply` as an operator
runs it: ageo has exactly its bookings up to T, okegawa keeps all of its, the replaced schema is kept aside.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from madoguchi.backups import Server
from madoguchi.base_backups import BaseBackup, base_backup
from tests.ops.scratch_cluster import (
    PrimaryCluster,
    book,
    booking_setup,
    codes,
    manage,
    primary_cluster,
    scratch_root,
)

pytestmark = pytest.mark.slow


class Scene:
    def __init__(self, cluster: PrimaryCluster, root: Path) -> None:
        self.cluster = cluster
        self.root = root
        self.data_dir = root / "app-data"
        self.slots = {schema: booking_setup(cluster, schema) for schema in ("ageo", "okegawa")}
        self.base: BaseBackup = base_backup(directory=root / "base", server=cluster.server()).backup


@pytest.fixture(scope="module")
def scene(django_db_setup: None, django_db_blocker: Any) -> Iterator[Scene]:
    with django_db_blocker.unblock():
        source = Server.from_settings()
    with scratch_root("madoguchi-test-pitr-") as root, primary_cluster(root / "primary", source) as cluster:
        yield Scene(cluster, root)


def _server_now(cluster: PrimaryCluster) -> dt.datetime:
    with cluster.server().connect(autocommit=True) as conn:
        row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def _after(cluster: PrimaryCluster, moment: dt.datetime) -> None:
    """Poll until the server's clock has passed `moment` (commits from now on are later than it)."""
    deadline = time.monotonic() + 5
    while _server_now(cluster) <= moment:
        assert time.monotonic() < deadline
        time.sleep(0.001)


def test_one_city_back_to_a_point_in_time_and_the_other_untouched(scene: Scene) -> None:
    cluster = scene.cluster
    book(cluster, "ageo", scene.slots["ageo"], ["PITR-A1", "PITR-A2"])
    book(cluster, "okegawa", scene.slots["okegawa"], ["PITR-B1"])
    target = _server_now(cluster)
    _after(cluster, target)
    book(cluster, "ageo", scene.slots["ageo"], ["PITR-A3"])
    book(cluster, "okegawa", scene.slots["okegawa"], ["PITR-B2", "PITR-B3"])
    cluster.switch_and_wait_archived()
    args = [
        "city_pitr",
        "--city",
        "ageo",
        "--target-time",
        target.isoformat(),
        "--base-backup",
        str(scene.base.path),
        "--wal-archive",
        str(cluster.archive),
        "--out",
        str(scene.root / "pitr-out"),
        "--work-dir",
        str(scene.root),
        "--timeout",
        "120",
        "--apply",
    ]

    refused = manage(cluster, scene.data_dir, *args)
    assert refused.returncode != 0
    assert "ageo is active: suspend it first" in refused.stderr
    assert codes(cluster, "ageo") == {"PITR-A1", "PITR-A2", "PITR-A3"}

    with cluster.server().connect() as conn:
        conn.execute("UPDATE tenants_municipality SET status = 'suspended' WHERE slug = 'ageo'")
        conn.commit()
    done = manage(cluster, scene.data_dir, *args)
    assert done.returncode == 0, done.stderr + done.stdout

    assert codes(cluster, "ageo") == {"PITR-A1", "PITR-A2"}
    assert codes(cluster, "okegawa") == {"PITR-B1", "PITR-B2", "PITR-B3"}
    with cluster.server().connect(autocommit=True) as conn:
        aside = [
            r[0]
            for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'ageo\\_replaced\\_%'")
        ]
    assert len(aside) == 1
    assert codes(cluster, aside[0]) == {"PITR-A1", "PITR-A2", "PITR-A3"}
    assert f"the previous one is kept as {aside[0]}" in done.stdout
    line = next(x for x in done.stdout.splitlines() if x.startswith("booking_reservation "))
    assert line.split()[1:3] == ["3", "2"]
    # The dump that was swapped in stays, with the time it was recovered to.
    manifests = list((scene.root / "pitr-out").glob("*/ageo.json"))
    assert len(manifests) == 1
    assert json.loads(manifests[0].read_text())["recovery_target_time"] == target.isoformat()
    assert not list(scene.root.glob("madoguchi-pitr-*")), "the scratch cluster's directory is left behind"


def test_one_city_back_to_its_nightly_batch_dump_with_from_dump(scene: Scene) -> None:
    """city_pitr --from-dump with a nightly batch archive (both cities in it): only okegawa is swapped back."""
    cluster = scene.cluster
    nightly = scene.root / "nightly"
    dumped = manage(
        cluster, scene.data_dir, "city_dump", "--dir", str(nightly), "--city", "ageo", "--city", "okegawa"
    )
    assert dumped.returncode == 0, dumped.stderr + dumped.stdout
    (archive,) = nightly.glob("*/batch-0001.dump")
    ageo_before, okegawa_before = codes(cluster, "ageo"), codes(cluster, "okegawa")
    book(cluster, "okegawa", scene.slots["okegawa"], ["PITR-B9"])
    with cluster.server().connect() as conn:
        conn.execute("UPDATE tenants_municipality SET status = 'suspended' WHERE slug = 'okegawa'")
        conn.commit()
    args = ["city_pitr", "--city", "okegawa", "--from-dump", str(archive)]
    dry = manage(cluster, scene.data_dir, *args)
    assert dry.returncode == 0, dry.stderr + dry.stdout
    assert f"to apply this very dump: --apply --from-dump {archive}" in dry.stdout
    assert codes(cluster, "okegawa") == okegawa_before | {"PITR-B9"}
    done = manage(cluster, scene.data_dir, *args, "--apply")
    assert done.returncode == 0, done.stderr + done.stdout
    assert codes(cluster, "okegawa") == okegawa_before
    assert codes(cluster, "ageo") == ageo_before


def test_a_time_before_the_base_backup_is_refused_before_anything_runs(scene: Scene, city: Any) -> None:
    before = scene.base.end_time - dt.timedelta(minutes=1)
    with pytest.raises(CommandError, match=r"is before the base backup .* ended"):
        call_command(
            "city_pitr",
            "--city",
            "ageo",
            "--target-time",
            before.isoformat(),
            "--base-backup",
            str(scene.base.path),
            "--wal-archive",
            str(scene.cluster.archive),
        )


def test_missing_wal_is_named(scene: Scene, city: Any) -> None:
    empty = scene.root / "empty-archive"
    empty.mkdir()
    later = _server_now(scene.cluster)
    with pytest.raises(CommandError, match="WAL missing: recovery used the whole archive"):
        call_command(
            "city_pitr",
            "--city",
            "ageo",
            "--target-time",
            later.isoformat(),
            "--base-backup",
            str(scene.base.path),
            "--wal-archive",
            str(empty),
            "--work-dir",
            str(scene.root),
            "--timeout",
            "60",
        )
    assert not list(scene.root.glob("madoguchi-pitr-*"))


def test_an_unknown_city_and_a_time_without_zone_are_refused(db: None) -> None:
    with pytest.raises(CommandError, match="unknown cities: nowhere"):
        call_command("city_pitr", "--city", "nowhere", "--target-time", "2026-12-06 10:15:00+09:00")
    with pytest.raises(CommandError, match="has no time zone"):
        call_command("city_pitr", "--city", "ageo", "--target-time", "2026-12-06 10:15:00")
