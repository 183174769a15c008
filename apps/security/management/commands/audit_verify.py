"""manage.py audit_verify [--schema ageo]: check every audit chain; exit status 1 on any break."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.security.audit import VERIFY_REASONS, audit_verify
from apps.security.db_roles import security_schemas


class Command(BaseCommand):
    help = (
        "Verify the hash chain of the audit log in public and every city (or one --schema). Prints OK or "
        "BROKEN at sequence N per schema, with the newest sequence and hash to compare with later runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--schema", action="append", default=[], help="only this schema; repeat for several"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        known = security_schemas()
        schemas = options["schema"] or known
        unknown = sorted(set(schemas) - set(known))
        if unknown:
            raise CommandError(f"no such schema: {', '.join(unknown)}")
        broken = []
        for schema in schemas:
            result = audit_verify(schema)
            if result.ok:
                self.stdout.write(
                    f"{schema}: OK ({result.checked} events, last sequence {result.last_sequence}, "
                    f"hash {result.last_hash})"
                )
            else:
                broken.append(schema)
                self.stdout.write(
                    f"{schema}: BROKEN at sequence {result.broken_at}: {VERIFY_REASONS[result.reason]} "
                    f"({result.checked} events verified before it)"
                )
        if broken:
            raise CommandError(f"audit chain broken in: {', '.join(broken)}")
