"""manage.py pool_refill [--size N]: drop stale spare schemas and clone new ones until the pool is full."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tenants.pool_models import SpareSchema
from tenants.services import pool_refill


class Command(BaseCommand):
    help = "Fill the warm pool of spare city schemas (settings.TENANT_POOL_SIZE; --size 0 empties it)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--size", type=int, default=None, help="spares to keep (default: the setting)")

    def handle(self, *args: Any, **options: Any) -> None:
        size = options["size"]
        if size is not None and size < 0:
            size = 0
        started = time.perf_counter()
        made = pool_refill(size=size)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"cloned {made} spare schema(s) in {elapsed:.2f} s; {SpareSchema.objects.count()} in the pool"
            )
        )
