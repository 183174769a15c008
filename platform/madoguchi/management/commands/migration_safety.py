"""manage.py migration_safety [--release]: do the unreleased migrations keep the running code working?"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from madoguchi import migration_safety


class Command(BaseCommand):
    help = (
        "List the migrations no release has shipped yet and what in them would break the old code during a rolling "
        "upgrade (exit 1 if anything). --release records them as shipped (when the release is tagged)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--release", action="store_true", help=f"append them to {migration_safety.RELEASED_FILE.name}"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        pending, findings = migration_safety.check()
        if not pending:
            self.stdout.write("no unreleased migrations")
            return
        self.stdout.write("unreleased migrations: " + ", ".join(pending))
        for finding in findings:
            self.stdout.write(f"  UNSAFE {finding}")
        if findings:
            raise CommandError(
                f"{len(findings)} operation(s) would break the running release during the upgrade: split them into "
                "an expand and a later contract release, or mark the migration with zero_downtime = '<why>'"
            )
        if options["release"]:
            migration_safety.record_release(pending)
            self.stdout.write(
                self.style.SUCCESS(
                    f"recorded {len(pending)} migration(s) in {migration_safety.RELEASED_FILE}"
                )
            )
