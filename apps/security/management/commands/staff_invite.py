"""manage.py staff_invite kitamoto tanaka tanaka@city.kitamoto.lg.jp [--role supervisor] [--name 田中]: invite a
city's staff member (a new city's first supervisor, say) by mail.

The account is created with no usable password (`apps.security.services.staff_invite`, audited as the system),
then the city's own password-reset mail is sent to it, with the link on the city's primary host: the person sets a
password there, from one of the city's allowed networks, and registers the second factor at the first sign-in
(supervisors must). The vendor console (issue 15) calls the same service.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from apps.security.actors import Actor
from apps.security.invitations import invitation_mail_send
from apps.security.models import Role
from apps.security.services import staff_invite
from tenants.models import Municipality


class Command(BaseCommand):
    help = "Create a staff account in a city and mail its owner the link to set a password."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the city's identifier, e.g. ageo")
        parser.add_argument("username")
        parser.add_argument("email")
        parser.add_argument("--role", choices=[r.value for r in Role], default=Role.SUPERVISOR.value)
        parser.add_argument("--name", default="", help="display name, e.g. 市民課 田中")

    def handle(self, *args: Any, **options: Any) -> None:
        city = Municipality.objects.exclude(schema_name="public").filter(slug=options["slug"]).first()
        if city is None:
            raise CommandError(f"no city {options['slug']!r}")
        domain = city.domains.filter(is_primary=True).first() or city.domains.first()
        if domain is None:
            raise CommandError(f"{city.slug} has no host")
        with schema_context(city.schema_name):
            try:
                user = staff_invite(
                    username=options["username"],
                    email=options["email"],
                    role=Role(options["role"]),
                    display_name=options["name"],
                    actor=Actor.system("staff_invite"),
                )
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
        try:
            invitation_mail_send(city=city, user=user)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"invited {user.username} ({options['role']}) to {city.slug}: mail sent to {user.email}"
            )
        )
