"""Per-city logical dumps with a manifest and retention (docs/operations.md, "Backups")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from madoguchi.backups import DEFAULT_KEEP, BackupError, cities, city_dump


class Command(BaseCommand):
    help = "Dump each active city's schema (or the given ones) with pg_dump -n, a manifest, and retention."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--city", action="append", default=[], metavar="SLUG", help="only this city (repeatable)"
        )
        parser.add_argument(
            "--dir", type=Path, default=None, help="backup directory (default: settings.BACKUP_DIR)"
        )
        parser.add_argument("--keep", type=int, default=DEFAULT_KEEP, help="dumps kept per city (default 14)")

    def handle(self, *args: Any, **options: Any) -> None:
        failed = []
        try:
            targets = cities(options["city"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        for municipality in targets:
            try:
                result = city_dump(municipality, directory=options["dir"], keep=options["keep"])
            except BackupError as exc:
                self.stderr.write(f"{municipality.slug}: FAILED: {exc}")
                failed.append(municipality.slug)
                continue
            self.stdout.write(
                f"{result.slug}: {result.dump} ({result.tables} tables, {result.rows} rows; "
                f"{len(result.removed)} old dumps removed)"
            )
        if failed:
            raise CommandError(f"dumps failed for: {', '.join(failed)}")
