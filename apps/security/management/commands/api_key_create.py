"""manage.py api_key_create ageo --name 住民記録システム --scope slots:read [--scope ...] [--expires 2027-03-31]

Until the staff pages for keys exist, the vendor makes a city's API key on the city's written request. The token is
printed once (only its HMAC is kept); the creation is in the city's audit log, as done by the system.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from apps.security.actors import Actor
from apps.security.api_keys import api_key_create
from apps.security.models import ApiScope
from tenants.models import Municipality

TOKYO_END_OF_DAY = time(23, 59, 59)


class Command(BaseCommand):
    help = "Create an API key for a city and print its token once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("city", help="the city's slug, e.g. ageo")
        parser.add_argument("--name", required=True, help="what the key is for, e.g. 住民記録システム")
        parser.add_argument("--scope", action="append", required=True, choices=list(ApiScope.values))
        parser.add_argument("--expires", metavar="YYYY-MM-DD", help="last day the key works (Japan time)")

    def handle(self, *args: Any, **options: Any) -> None:
        city = Municipality.objects.filter(slug=options["city"]).exclude(schema_name="public").first()
        if city is None:
            raise CommandError(f"no city {options['city']!r}")
        expires_at = None
        if options["expires"]:
            from zoneinfo import ZoneInfo

            try:
                day = datetime.strptime(options["expires"], "%Y-%m-%d").date()
            except ValueError as error:
                raise CommandError("--expires is YYYY-MM-DD") from error
            expires_at = datetime.combine(day, TOKYO_END_OF_DAY, ZoneInfo("Asia/Tokyo"))
        with schema_context(city.schema_name):
            try:
                issued = api_key_create(
                    name=options["name"],
                    scopes=options["scope"],
                    expires_at=expires_at,
                    actor=Actor.system("api_key_create"),
                )
            except ValidationError as error:
                raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(f"{issued.key.prefix} {issued.key.name} ({', '.join(issued.key.scopes)})")
        self.stdout.write(issued.token)
