"""manage.py grant_app_role madoguchi_app [--schema ageo] [--print]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.security.db_roles import app_role_grant, app_role_grant_statements, security_schemas


class Command(BaseCommand):
    help = (
        "Grant the application's database role its privileges in public, the city template and every city: "
        "read and write on every table, but only SELECT and INSERT on the audit log. Run as the tables' owner "
        "after every deploy and every new city (ops/database-roles.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="the role the application connects as, e.g. madoguchi_app")
        parser.add_argument(
            "--schema",
            action="append",
            default=[],
            help="only this schema; repeat for several (default: all)",
        )
        parser.add_argument("--print", action="store_true", help="print the SQL instead of running it")

    def handle(self, *args: Any, **options: Any) -> None:
        known = security_schemas()
        schemas = options["schema"] or known
        unknown = sorted(set(schemas) - set(known))
        if unknown:
            raise CommandError(f"no such schema: {', '.join(unknown)}")
        try:
            if options["print"]:
                for schema in schemas:
                    for statement in app_role_grant_statements(role=options["role"], schema=schema):
                        self.stdout.write(f"{statement};")
                return
            statements = app_role_grant(role=options["role"], schemas=schemas)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"granted {options['role']} in {len(schemas)} schema(s) ({len(statements)} statements)"
            )
        )
