"""Print each nginx certificate's host, expiry and days left; exit 1 if one is due (ops/nginx/README.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from madoguchi.tls import certificate_statuses


class Command(BaseCommand):
    help = (
        "Each certificate nginx's generated config names (the Domain table): host, notAfter, days left. Exits 1 "
        "when one is missing, expired or within --days of expiry."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tls-dir", type=Path, default=None, help="default: MADOGUCHI_TLS_DIR")
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="due when fewer days are left (default: the largest of MADOGUCHI_TLS_REMIND_DAYS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else max(settings.TLS_REMIND_DAYS, default=30)
        due = []
        for status in certificate_statuses(timezone.now(), options["tls_dir"]):
            if status.not_after is None:
                line = f"{status.name}  {status.path}  {status.error.upper()}"
            else:
                flag = "EXPIRED" if status.expired else ("DUE" if status.due(days) else "ok")
                line = f"{status.name}  {status.not_after:%Y-%m-%d %H:%M} UTC  {status.days_left} days left  {flag}"
            self.stdout.write(line)
            if status.due(days):
                due.append(status.name)
        if due:
            raise CommandError(f"renew within {days} days: {', '.join(due)} (ops/nginx/README.md)")
