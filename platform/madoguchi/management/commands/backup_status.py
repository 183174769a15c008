"""Archiving health: what to alert on (docs/operations.md, "Backups", monitoring). Exits 1 when a check fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from madoguchi.base_backups import archive_status


class Command(BaseCommand):
    help = (
        "Report WAL archiving (pg_stat_archiver) and base backups; fail when archiving is off or failing, WAL "
        "waits too long, a segment is missing, or the newest base backup is too old."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dir", type=Path, default=None, help="base backup directory (default: settings.BASE_BACKUP_DIR)"
        )
        parser.add_argument(
            "--wal-archive", type=Path, default=None, help="WAL archive (default: settings.WAL_ARCHIVE_DIR)"
        )
        parser.add_argument(
            "--max-archive-age",
            type=int,
            default=300,
            help="seconds WAL may wait to be archived (default 300)",
        )
        parser.add_argument(
            "--max-base-age", type=int, default=26 * 3600, help="age of the newest base backup (default 26 h)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        status = archive_status(
            directory=options["dir"],
            wal_archive=options["wal_archive"],
            max_archive_age=options["max_archive_age"],
            max_base_age=options["max_base_age"],
        )
        for line in status.lines:
            self.stdout.write(line)
        for problem in status.problems:
            self.stdout.write(f"ALERT: {problem}")
        if status.problems:
            raise CommandError(f"{len(status.problems)} backup checks failed")
        self.stdout.write("backups ok")
