"""manage.py totp_code ageo ageo-staff: the current authenticator-app code of an account (demo and support)."""

from __future__ import annotations

from typing import Any

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from allauth.mfa.utils import decrypt
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from apps.security.models import User


class Command(BaseCommand):
    help = "Print the current TOTP code of a user who has an authenticator app (for the demo accounts)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("schema", help="city slug, or public for the vendor")
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        with schema_context(options["schema"]):
            user = User.objects.filter(username=options["username"]).first()
            totp = (
                Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
                if user
                else None
            )
            if totp is None:
                raise CommandError("no such user with an authenticator app in that schema")
            counters = list(yield_hotp_counters_from_time())
            code = format_hotp_value(hotp_value(decrypt(totp.data["secret"]), counters[len(counters) // 2]))
        self.stdout.write(code)
