"""Bring a database to a servable state: migrations, cache table, template schema, and optionally demo data."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from tenants.services import public_tenant_ensure, template_ensure


class Command(BaseCommand):
    help = (
        "Migrate every schema, create the cache table and the template schema; --demo adds the demo cities."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--demo", action="store_true", help="create ageo and okegawa with staff logins")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        public_tenant_ensure(domains=[settings.MADOGUCHI_DOMAIN])
        call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)
        if settings.TENANT_CREATION == "clone":
            template_ensure()
        if not options["demo"]:
            return
        from madoguchi.demo import DEMO_PASSWORD, demo_setup

        port = "8000"
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD})")
        self.stdout.write(
            "Second factor: an authenticator app with the secret shown, one of the recovery codes,"
        )
        self.stdout.write(
            "or the current code from `.venv/bin/python manage.py totp_code <city|public> <user>`."
        )
        for login in demo_setup():
            self.stdout.write(
                f"  http://{login.host}:{port}/accounts/login/  {login.username:<20} {login.role}"
            )
            self.stdout.write(
                f"      TOTP secret {login.totp_secret}  recovery codes {' '.join(login.recovery_codes)}"
            )
