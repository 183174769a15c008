"""manage.py audit_city_key <schema>: print one city's audit key, to hand over with its log at contract end."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from apps.security.actors import SYSTEM
from apps.security.audit import audit_record
from apps.security.audit_keys import city_key
from apps.security.db_roles import security_schemas


class Command(BaseCommand):
    help = (
        "Print the audit-chain key of one schema (hex), derived from MADOGUCHI_AUDIT_KEY. With it the city can "
        "verify its own exported log; it reveals neither the master key nor any other city's key. The disclosure "
        "is recorded in that schema's audit log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("schema", help="the city's schema (its slug)")

    def handle(self, *args: Any, **options: Any) -> None:
        schema = options["schema"]
        if schema not in security_schemas():
            raise CommandError(f"no such schema: {schema}")
        with schema_context(schema):
            # Recorded first: a key that left the system is worth an event in the log it protects.
            audit_record(
                action="audit.key_disclosed",
                actor=SYSTEM,
                target=f"schema:{schema}",
                summary="監査ログの検証鍵を出力（manage.py audit_city_key）",
            )
        self.stdout.write(city_key(schema).hex())
