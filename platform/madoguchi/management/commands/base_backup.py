"""Take a base backup (pg_basebackup, tar + gzip, a manifest, checked by pg_verifybackup; docs/operations.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from madoguchi.backups import BackupError
from madoguchi.base_backups import BASE_BACKUP_TIMEOUT_SECONDS, base_backup, verify_base_backup


class Command(BaseCommand):
    help = "Take a base backup of the database cluster with pg_basebackup and verify it with pg_verifybackup."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dir", type=Path, default=None, help="base backup directory (default: settings.BASE_BACKUP_DIR)"
        )
        parser.add_argument(
            "--no-verify", action="store_true", help="skip pg_verifybackup (it needs the cluster's size free)"
        )
        parser.add_argument(
            "--timeout", type=int, default=BASE_BACKUP_TIMEOUT_SECONDS, help="seconds allowed"
        )
        parser.add_argument(
            "--verify", type=Path, default=None, metavar="PATH", help="only verify this existing base backup"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verify"] is not None:
            try:
                seconds = verify_base_backup(options["verify"])
            except BackupError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"{options['verify']}: verified by pg_verifybackup in {seconds:.1f} s")
            return
        try:
            result = base_backup(
                directory=options["dir"], verify=not options["no_verify"], timeout=options["timeout"]
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        backup = result.backup
        verified = (
            f"verified by pg_verifybackup in {result.verify_seconds:.1f} s"
            if result.verify_seconds is not None
            else "NOT verified"
        )
        self.stdout.write(
            f"{backup.path}: {backup.bytes / 1e6:.1f} MB in {result.seconds:.1f} s, {verified}; "
            f"WAL from {backup.start_wal} (timeline {backup.info['timeline']}), ended {backup.info['end_time']}"
        )
