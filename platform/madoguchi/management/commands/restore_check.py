"""Restore each city's newest dump (one scratch database per batch archive) and compare it with its manifest (make restore-check)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from madoguchi.backup_files import remove_stale_partials
from madoguchi.backups import RESTORE_TIMEOUT_SECONDS, BackupError, backup_dir
from madoguchi.restore import restore_check


class Command(BaseCommand):
    help = "Restore the latest dump of every city into a fresh database; compare row counts and checksums per table."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dir", type=Path, default=None, help="backup directory (default: settings.BACKUP_DIR)"
        )
        parser.add_argument(
            "--city", action="append", default=[], metavar="SLUG", help="only this city (repeatable)"
        )
        parser.add_argument(
            "--timeout",
            type=int,
            default=RESTORE_TIMEOUT_SECONDS,
            help="seconds allowed per city's restore (a batch's: this times its cities under check)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # A dump run killed outright leaves its .partial files; none that a running dump holds is touched.
        for path in remove_stale_partials(options["dir"] or backup_dir(), before=time.time()):
            self.stdout.write(f"removed the stale partial file {path} (a run killed outright)")
        try:
            results = restore_check(
                directory=options["dir"], slugs=options["city"], timeout=options["timeout"]
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        width = max([len("city"), *(len(r.slug) for r in results)])
        self.stdout.write(f"{'city':<{width}}  {'tables':>6}  {'rows':>10}  result  dump")
        for r in results:
            verdict = "ok" if r.ok else "FAILED"
            name = r.dump.label if r.dump else "-"
            self.stdout.write(f"{r.slug:<{width}}  {r.tables:>6}  {r.rows:>10}  {verdict:<6}  {name}")
            for problem in r.problems:
                self.stdout.write(f"{'':<{width}}  - {problem}")
        failed = [r.slug for r in results if not r.ok]
        if failed:
            raise CommandError(f"restore check failed for: {', '.join(failed)}")
        self.stdout.write(f"restore check passed for {len(results)} cities")
