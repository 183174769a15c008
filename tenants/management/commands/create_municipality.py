"""manage.py create_municipality ageo 112194 上尾市 "Ageo City" 埼玉県 --domain ageo.localhost"""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.services import MunicipalityInput, municipality_create


class Command(BaseCommand):
    help = "Create a municipality (tenant): its schema, its hosts and every app's defaults."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="identifier and schema name, e.g. ageo")
        parser.add_argument("lg_code", help="local government code (6 digits), e.g. 112194")
        parser.add_argument("name_ja")
        parser.add_argument("name_en")
        parser.add_argument("prefecture")
        parser.add_argument(
            "--domain",
            action="append",
            default=[],
            help="host name; repeat for several (the first is primary). Default: <slug>.<MADOGUCHI_DOMAIN>",
        )
        parser.add_argument("--contact-email", default="")
        parser.add_argument("--contact-phone", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.conf import settings

        domains = options["domain"] or [f"{options['slug']}.{settings.MADOGUCHI_DOMAIN}"]
        started = time.perf_counter()
        try:
            municipality = municipality_create(
                data=MunicipalityInput(
                    slug=options["slug"],
                    lg_code=options["lg_code"],
                    name_ja=options["name_ja"],
                    name_en=options["name_en"],
                    prefecture=options["prefecture"],
                    contact_email=options["contact_email"],
                    contact_phone=options["contact_phone"],
                ),
                domains=domains,
            )
        except ValidationError as exc:
            messages = "; ".join(f"{field}: {' '.join(errs)}" for field, errs in exc.message_dict.items())
            raise CommandError(messages) from exc
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"created {municipality.slug} ({municipality.name_ja}) at {', '.join(domains)} in {elapsed:.2f} s"
            )
        )
