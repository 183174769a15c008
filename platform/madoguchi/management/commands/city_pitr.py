"""Restore ONE city to a point in time without touching the others (docs/operations.md, "Backups").

A scratch cluster is recovered from a base backup and the WAL archive to the target time, the city's schema dumped
from it, the scratch cluster removed; with --apply (the city suspended) the current schema is renamed aside and the
dump restored in its place, in one transaction.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from madoguchi.backups import BackupError, CityDump, Server, cities, city_dump_in
from madoguchi.base_backups import base_backup_for, wal_archive_dir
from madoguchi.pitr import RECOVERY_TIMEOUT_SECONDS, city_recover_dump, city_swap, table_counts
from tenants.models import Municipality


def parse_target_time(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(
            f"--target-time {text!r} is not a time such as '2026-12-06 10:15:00+09:00'"
        ) from exc
    if moment.tzinfo is None:
        raise CommandError(f"--target-time {text!r} has no time zone: write it with one, e.g. '{text}+09:00'")
    if moment > dt.datetime.now(dt.UTC):
        raise CommandError(f"--target-time {text!r} is in the future")
    return moment


class Command(BaseCommand):
    help = "Recover one city's schema to a point in time from the base backup and the WAL archive (--apply swaps)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--city", required=True, metavar="SLUG")
        parser.add_argument(
            "--target-time", help="e.g. '2026-12-06 10:15:00+09:00' (a time zone is required)"
        )
        parser.add_argument(
            "--base-backup",
            type=Path,
            default=None,
            help="a base backup directory (default: the newest one in settings.BASE_BACKUP_DIR ended before the time)",
        )
        parser.add_argument(
            "--wal-archive", type=Path, default=None, help="WAL archive (default: settings.WAL_ARCHIVE_DIR)"
        )
        parser.add_argument(
            "--out", type=Path, default=None, help="where the city's dump goes (default: DATA_DIR/pitr)"
        )
        parser.add_argument(
            "--work-dir",
            type=Path,
            default=None,
            help="scratch cluster's parent directory (the cluster's size)",
        )
        parser.add_argument("--os-user", default=None, help="as root: OS user running the scratch server")
        parser.add_argument(
            "--timeout", type=int, default=RECOVERY_TIMEOUT_SECONDS, help="seconds for recovery"
        )
        parser.add_argument(
            "--from-dump",
            type=Path,
            default=None,
            help="apply the city's dump in this archive (an earlier run's, or a nightly batch; no recovery)",
        )
        parser.add_argument(
            "--apply", action="store_true", help="swap the dump in (the city must be suspended first)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._handle(options)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc

    def _handle(self, options: dict[str, Any]) -> None:
        municipality = cities([options["city"]])[0]
        if options["apply"] and municipality.status != Municipality.Status.SUSPENDED:
            raise CommandError(
                f"{municipality.slug} is {municipality.status}: suspend it first (vendor console, or "
                "tenants.services.municipality_set_status); nothing was done"
            )
        dump: CityDump
        if options["from_dump"] is not None:
            dump = city_dump_in(options["from_dump"], municipality.slug)
        else:
            if not options["target_time"]:
                raise CommandError("--target-time is required (or --from-dump)")
            target = parse_target_time(options["target_time"])
            base = options["base_backup"] or base_backup_for(target)
            archive = options["wal_archive"] or wal_archive_dir()
            self.stdout.write(
                f"{municipality.slug}: recovering {base if isinstance(base, Path) else base.path} "
                f"with {archive} to {target.isoformat()} ..."
            )
            clock = time.monotonic()
            dump, recovered = city_recover_dump(
                municipality,
                base=base,
                wal_archive=archive,
                target_time=target,
                out_dir=options["out"],
                work_dir=options["work_dir"],
                os_user=options["os_user"],
                timeout=options["timeout"],
            )
            self.stdout.write(
                f"unpacked in {recovered.unpack_seconds:.1f} s, recovered in {recovered.seconds:.1f} s "
                f"(stopped before {recovered.stopped_at or '-'}); dumped {len(dump.tables)} tables, "
                f"{dump.rows} rows ({dump.archive.stat().st_size / 1e6:.1f} MB): {dump.archive}; "
                f"{time.monotonic() - clock:.1f} s in all"
            )
        at_target = {name: int(t["rows"]) for name, t in dump.tables.items()}
        if not options["apply"]:
            now = table_counts(Server.from_settings(), municipality.schema_name)
            self._counts("now", now, "in the dump", at_target)
            self.stdout.write(
                f"dry run: with --apply (the city suspended), schema {municipality.schema_name} would be renamed "
                f"to {municipality.schema_name}_replaced_<time> and its dump in {dump.label} restored in its place; "
                f"to apply this very dump: --apply --from-dump {dump.archive}"
            )
            return
        clock = time.monotonic()
        swap = city_swap(municipality, dump)
        seconds = time.monotonic() - clock
        self._counts("before", swap.before, "after", swap.after)
        self.stdout.write(
            f"{swap.schema} replaced in {seconds:.1f} s; the previous one is kept as {swap.aside}"
        )
        if swap.problems:
            for problem in swap.problems:
                self.stdout.write(f"- {problem}")
            raise CommandError("the restored schema differs from the dump's manifest")
        self.stdout.write(
            "check the city (staff pages), run `manage.py migrate_schemas --schema="
            f"{swap.schema}` if the dump predates the code's migrations, then resume it; "
            f"drop {swap.aside} once satisfied"
        )

    def _counts(self, left: str, a: dict[str, int], right: str, b: dict[str, int]) -> None:
        names = sorted(set(a) | set(b))
        width = max([len("table"), *(len(n) for n in names)])
        self.stdout.write(f"{'table':<{width}}  {left:>12}  {right:>12}")
        for name in names:
            x, y = a.get(name), b.get(name)
            if x or y:
                mark = "" if x == y else "  *"
                self.stdout.write(
                    f"{name:<{width}}  {x if x is not None else '-':>12}  {y if y is not None else '-':>12}{mark}"
                )
        self.stdout.write(f"{'(rows)':<{width}}  {sum(a.values()):>12}  {sum(b.values()):>12}")
