"""manage.py city_status ageo [suspended|active]: show or set a city's status (suspend and resume).

Suspended, the city's hosts answer with the suspension page (residents and staff; 503 `city_suspended` under
/api/), every process sees the change within a second (the routing version), and its periodic work stops (fan-outs
skip inactive cities). Nothing is deleted. The vendor console (issue 15) calls the same service.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.models import Municipality
from tenants.services import municipality_set_status


class Command(BaseCommand):
    help = "Show a city's status, or set it (suspended / active)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the city's identifier, e.g. ageo")
        parser.add_argument("status", nargs="?", choices=Municipality.Status.values, help="the new status")

    def handle(self, *args: Any, **options: Any) -> None:
        municipality = Municipality.objects.exclude(schema_name="public").filter(slug=options["slug"]).first()
        if municipality is None:
            raise CommandError(f"no city {options['slug']!r}")
        if options["status"] is None:
            self.stdout.write(f"{municipality.slug} ({municipality.name_ja}): {municipality.status}")
            return
        before = municipality.status
        try:
            municipality_set_status(municipality=municipality, status=options["status"])
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(self.style.SUCCESS(f"{municipality.slug}: {before} -> {municipality.status}"))
