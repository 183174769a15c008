"""manage.py audit_head_reset --schema ageo: re-anchor a schema's audit head at its chain's current end."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from apps.security.actors import SYSTEM
from apps.security.audit import audit_record
from apps.security.audit_chain import audit_head_reset, audit_verify
from apps.security.db_roles import security_schemas


class Command(BaseCommand):
    help = (
        "After investigating a 'head missing' or 'head forged' report: record the chain's current end as its head "
        "(the chain itself must verify), and record that in the schema's audit log. Never run it to silence a "
        "report nobody has looked at."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--schema", required=True, help="the schema whose head to re-anchor")
        parser.add_argument("--reason", required=True, help="why (the incident's reference); kept in the log")

    def handle(self, *args: Any, **options: Any) -> None:
        schema = options["schema"]
        if schema not in security_schemas():
            raise CommandError(f"no such schema: {schema}")
        before = audit_verify(schema)
        if before.reason not in ("", "head missing", "head forged", "head mismatch", "truncated"):
            # Re-anchoring cannot repair rows: a changed or missing row stays a finding.
            raise CommandError(f"{schema}: the chain itself is broken at sequence {before.broken_at}")
        head = audit_head_reset(schema)
        with schema_context(schema):
            audit_record(
                action="audit.head_reset",
                actor=SYSTEM,
                target=f"schema:{schema}",
                summary=f"監査ログの先頭記録を再設定（{before.reason or 'ok'}、連番 {head.sequence}）",
                before={"reason": before.reason, "head_sequence": before.head_sequence},
                after={"sequence": head.sequence, "note": options["reason"]},
            )
        self.stdout.write(f"{schema}: head re-anchored at sequence {head.sequence}")
