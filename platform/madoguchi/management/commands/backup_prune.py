"""Delete base backups beyond the newest N and the archived WAL only they needed (docs/operations.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from madoguchi.backups import BackupError
from madoguchi.base_backups import BASE_KEEP, prune_backups


class Command(BaseCommand):
    help = (
        "Keep the newest N base backups; delete older ones and the WAL segments older than the oldest kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--keep", type=int, default=BASE_KEEP, help="base backups kept (default 7)")
        parser.add_argument(
            "--dir", type=Path, default=None, help="base backup directory (default: settings.BASE_BACKUP_DIR)"
        )
        parser.add_argument(
            "--wal-archive", type=Path, default=None, help="WAL archive (default: settings.WAL_ARCHIVE_DIR)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = prune_backups(
                directory=options["dir"], wal_archive=options["wal_archive"], keep=options["keep"]
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        for path in result.removed:
            self.stdout.write(f"removed base backup {path}")
        cutoff = f" (older than {result.wal_cutoff})" if result.wal_cutoff else ""
        self.stdout.write(
            f"kept {len(result.kept)} base backups; removed {len(result.removed)}, "
            f"and {result.wal_removed} archived WAL files{cutoff}"
        )
