"""manage.py audit_verify [--schema ageo]: check every audit chain; exit status 1 on any break."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.security.audit_chain import VERIFY_REASONS, VerifyResult, audit_verify
from apps.security.db_roles import security_schemas


class Command(BaseCommand):
    help = (
        "Verify the keyed hash chain of the audit log in public and every city (or one --schema) and compare its "
        "end with the recorded head. Prints OK or BROKEN at sequence N per schema, with the newest sequence and "
        "hash to compare with later runs."
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
                    f"hash {result.last_hash}, matches the recorded head)"
                )
            else:
                broken.append(schema)
                self.stdout.write(
                    f"{schema}: BROKEN at sequence {result.broken_at}: {VERIFY_REASONS[result.reason]} "
                    f"({result.checked} events verified before it{_head_note(result)})"
                )
        if broken:
            raise CommandError(f"audit chain broken in: {', '.join(broken)}")


def _head_note(result: VerifyResult) -> str:
    if result.reason == "truncated":
        return f"; rows after sequence {result.last_sequence} are missing, the head records {result.head_sequence}"
    if result.head_sequence is not None and result.reason.startswith("head"):
        return f"; the head records sequence {result.head_sequence}"
    return ""
