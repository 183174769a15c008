"""Rehearse the backups end to end on this machine and print the figures (docs/operations.md, "Rehearsal").

    .venv/bin/python ops/backup/rehearse.py [--bookings 200000] [--after 200000] [--trickle 300]

On a scratch primary of its own (initdb'd in a temporary directory, archiving its WAL with ops/backup/archive-wal,
never the shared server): migrate + the demo cities (manage.py bootstrap --demo), N bookings per city, a base
backup, N more bookings per city (the WAL to replay), bookings committed one by one in both cities around a time T, then a point-in-time recovery of ageo to T
(dry run, then --apply --from-dump with the city suspended), a whole-cluster recovery to the end of the archive,
the nightly dump of one city and its restore check, retention. Every step timed; sizes measured. Takes a few
minutes; everything is removed at the end. Root runs the scratch servers as the OS user `postgres`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
FIGURES: list[tuple[str, float | None, str]] = []


@contextmanager
def step(name: str, note: Callable[[], str] | None = None) -> Iterator[None]:
    clock = time.monotonic()
    yield
    seconds = time.monotonic() - clock
    text = note() if note else ""
    FIGURES.append((name, seconds, text))
    out(f"{seconds:8.1f} s  {name}  {text}")


def out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def free_port() -> int:
    for port in range(18690, 18700):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("no free port in 18690-18699")


def size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def mb(n: float) -> str:
    return f"{float(n) / 1e6:.1f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--bookings", type=int, default=200_000, help="bookings per city before the base backup"
    )
    parser.add_argument("--after", type=int, default=200_000, help="bookings per city after the base backup")
    parser.add_argument("--trickle", type=int, default=300, help="bookings committed one by one around T")
    args = parser.parse_args()

    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="madoguchi-rehearsal-data-") as data_dir:
        os.environ.update(
            {
                "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/madoguchi",
                "DJANGO_SETTINGS_MODULE": "madoguchi.settings",
                "MADOGUCHI_DATA_DIR": data_dir,
            }
        )
        os.environ.setdefault("MADOGUCHI_API_KEY_PEPPER", "rehearsal-pepper")
        import django

        django.setup()
        from tests.ops.scratch_cluster import PrimaryCluster, bindir_for, scratch_root

        with scratch_root("madoguchi-rehearsal-") as root:
            cluster = PrimaryCluster(root / "primary", bindir_for(15))
            cluster.port = port
            try:
                with step("initdb + start the primary (archive_mode on)"):
                    cluster.start()
                    with cluster.server("postgres").connect(autocommit=True) as conn:
                        conn.execute("CREATE DATABASE madoguchi")
                return rehearse(cluster, root, args.bookings, args.after, args.trickle)
            finally:
                cluster.stop()


def bulk(cluster: Any, slots: dict[str, tuple[int, int]], count: int, prefix: str) -> None:
    """`count` bookings per city in one statement, with random e-mail addresses (data that does not compress
    better than residents' real addresses would)."""
    with cluster.server().connect() as conn:
        for schema, (slot, purpose) in slots.items():
            conn.execute(
                f"INSERT INTO {schema}.booking_reservation (code, slot_id, purpose_id, status, channel, seats, "  # noqa: S608
                "email, phone, created_at, updated_at, language) "
                "SELECT %s || lpad(n::text, 8, '0'), %s, %s, 'booked', 'web', 1, "
                "md5(random()::text) || '@example.jp', '048-' || lpad((random() * 1e7)::int::text, 7, '0'), "
                "now(), now(), 'ja' FROM generate_series(1, %s) n",
                [prefix, slot, purpose, count],
            )
        conn.commit()


def rehearse(cluster: Any, root: Path, bookings: int, after: int, trickle: int) -> int:
    from django.core.management import call_command

    from madoguchi import base_backups, pitr
    from tenants.models import Municipality
    from tests.ops.scratch_cluster import book, codes

    with step("manage.py bootstrap --demo (migrations, ageo + okegawa)"):
        call_command("bootstrap", "--demo", verbosity=0, stdout=io.StringIO())
    slots: dict[str, tuple[int, int]] = {}
    with cluster.server().connect() as conn:
        for schema in ("ageo", "okegawa"):
            row = conn.execute(
                f"SELECT s.id, p.id FROM {schema}.booking_slot s JOIN {schema}.booking_purpose p "  # noqa: S608
                "ON p.counter_group_id = s.counter_group_id ORDER BY s.id LIMIT 1"
            ).fetchone()
            assert row is not None, f"no slot in {schema}"
            slots[schema] = (int(row[0]), int(row[1]))
    with step(f"{bookings:,} bookings per city (bulk SQL)"):
        bulk(cluster, slots, bookings, "BULK")
    server = cluster.server()
    with server.connect(autocommit=True) as conn:
        row = conn.execute(
            "SELECT pg_database_size('madoguchi'), "
            "(SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            " WHERE n.nspname = 'ageo')"
        ).fetchone()
    assert row is not None
    FIGURES.append(("database size / ageo schema size", None, f"{mb(row[0])} / {mb(row[1])}"))
    out(f"database {mb(row[0])}, ageo {mb(row[1])}")

    base_dir = root / "base"
    result: Any = None

    def base_note() -> str:
        return (
            f"{mb(result.backup.bytes)} on disk (base.tar.gz + pg_wal.tar.gz), pg_basebackup {result.seconds:.1f} s, "
            f"pg_verifybackup {result.verify_seconds:.1f} s"
        )

    with step("base backup (pg_basebackup tar+gzip, then pg_verifybackup)", base_note):
        result = base_backups.base_backup(directory=base_dir, server=server)
    base = result.backup

    archived_before = size(cluster.archive)
    if after:
        with step(f"{after:,} more bookings per city after the base backup (WAL to replay)"):
            bulk(cluster, slots, after, "MORE")
    with step(f"{trickle} + {trickle} bookings committed one by one per city around T"):
        book(cluster, "ageo", slots["ageo"], [f"PITR-A{n:05d}" for n in range(trickle)])
        book(cluster, "okegawa", slots["okegawa"], [f"PITR-B{n:05d}" for n in range(trickle)])
        with server.connect(autocommit=True) as conn:
            target_row = conn.execute("SELECT clock_timestamp()").fetchone()
        assert target_row is not None
        target: dt.datetime = target_row[0]
        book(cluster, "ageo", slots["ageo"], [f"PITR-C{n:05d}" for n in range(trickle)])
        book(cluster, "okegawa", slots["okegawa"], [f"PITR-D{n:05d}" for n in range(trickle)])
    with step("switch WAL, wait until archived"):
        cluster.switch_and_wait_archived(timeout=120)
    wal_files = [p for p in cluster.archive.iterdir() if not p.name.startswith(".")]
    FIGURES.append(("WAL archive", None, f"{len(wal_files)} segments, {mb(size(cluster.archive))}"))
    out(
        f"archive {len(wal_files)} files, {mb(size(cluster.archive) - archived_before)} since the base backup"
    )

    with step("manage.py backup_status"):
        call_command("backup_status", "--dir", str(base_dir), "--wal-archive", str(cluster.archive))

    pitr_out = root / "pitr"
    with step("manage.py city_pitr --city ageo (dry run: unpack, recover to T, dump the schema)"):
        call_command(
            "city_pitr",
            "--city",
            "ageo",
            "--target-time",
            target.isoformat(),
            "--base-backup",
            str(base.path),
            "--wal-archive",
            str(cluster.archive),
            "--out",
            str(pitr_out),
            "--work-dir",
            str(root),
        )
    (dump,) = (pitr_out / "ageo").glob("*.dump")
    FIGURES.append(("ageo's dump at T", None, mb(dump.stat().st_size)))
    Municipality.objects.filter(slug="ageo").update(status=Municipality.Status.SUSPENDED)
    with step(
        "manage.py city_pitr --city ageo --apply --from-dump (rename aside + restore + check, one txn)"
    ):
        call_command("city_pitr", "--city", "ageo", "--apply", "--from-dump", str(dump))
    got_a = codes(cluster, "ageo")
    got_b = codes(cluster, "okegawa")
    ok = got_a == {f"PITR-A{n:05d}" for n in range(trickle)} and len(got_b) == 2 * trickle
    out(
        f"ageo has {len(got_a)} of the trickle bookings (want {trickle}), okegawa {len(got_b)} (want {2 * trickle})"
    )
    FIGURES.append(
        (
            "PITR result",
            None,
            f"ageo {len(got_a)}/{trickle} at T, okegawa {len(got_b)}/{2 * trickle}: {'ok' if ok else 'WRONG'}",
        )
    )

    def whole_note() -> str:
        return f"unpack {whole['unpack']:.1f} s, WAL replay {whole['replay']:.1f} s"

    whole: dict[str, float] = {}
    with (
        step("whole cluster: unpack the base backup + replay all archived WAL (scratch)", whole_note),
        pitr.recovered_cluster(
            base, cluster.archive, target_time=None, dbname="madoguchi", user="postgres", work_dir=root
        ) as recovered,
    ):
        whole["unpack"], whole["replay"] = recovered.unpack_seconds, recovered.seconds

    nightly = root / "nightly"
    with step("manage.py city_dump --city okegawa (nightly dump)", lambda: mb(size(nightly))):
        call_command("city_dump", "--city", "okegawa", "--dir", str(nightly))
    with step("manage.py restore_check --city okegawa (pg_restore into a scratch DB + checksums)"):
        call_command("restore_check", "--dir", str(nightly), "--city", "okegawa")
    with step("manage.py backup_prune --keep 1"):
        call_command(
            "backup_prune", "--keep", "1", "--dir", str(base_dir), "--wal-archive", str(cluster.archive)
        )

    out("\n| step | seconds | figures |\n|---|---:|---|")
    for name, seconds, text in FIGURES:
        out(f"| {name} | {'' if seconds is None else f'{seconds:.1f}'} | {text} |")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
