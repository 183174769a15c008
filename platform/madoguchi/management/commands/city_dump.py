"""Per-city logical dumps in batches with a manifest and retention (docs/operations.md, "Backups")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from madoguchi.backups import DEFAULT_KEEP, BackupError, CityDump, cities, default_batch_size, dump_cities


class Command(BaseCommand):
    help = (
        "Dump every active or offboarding city's schema (or the given ones) in batches: one pg_dump -n a -n b ... per batch, "
        "a manifest per city, retention."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--city", action="append", default=[], metavar="SLUG", help="only this city (repeatable)"
        )
        parser.add_argument(
            "--dir", type=Path, default=None, help="backup directory (default: settings.BACKUP_DIR)"
        )
        parser.add_argument("--keep", type=int, default=DEFAULT_KEEP, help="dumps kept per city (default 14)")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help=f"cities per pg_dump (default settings.BACKUP_BATCH_SIZE, {default_batch_size()})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        def progress(done: list[CityDump]) -> None:
            for dump in done:
                self.stdout.write(f"{dump.slug}: {dump.label} ({len(dump.tables)} tables, {dump.rows} rows)")

        try:
            result = dump_cities(
                cities(options["city"]) if options["city"] else None,
                directory=options["dir"],
                keep=options["keep"],
                batch_size=options["batch_size"],
                progress=progress,
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        for path in result.stale:
            self.stdout.write(f"removed the stale partial file {path} (a run killed outright)")
        for slug, error in sorted(result.failed.items()):
            self.stderr.write(f"{slug}: FAILED: {error}")
        for slug in result.gone:
            self.stdout.write(f"{slug}: skipped, its schema was deleted before its batch")
        self.stdout.write(
            f"{len(result.dumps)} cities in {result.batches} batches in {result.run}; "
            f"{len(result.removed)} old batches removed"
        )
        if result.failed:
            raise CommandError(f"dumps failed for: {', '.join(sorted(result.failed))}")
