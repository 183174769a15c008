"""The availability probe: once a minute, every city and module up, down or in approved maintenance.

The checks are the app's own, as cheap as a request's first query: the city is active, and its schema answers a
read of the module's tables (booking: slots and settings; issuance: cards; the API: keys and the security counters
that hold its rate limit, which live in the city's schema, not in Redis). Each read is schema-qualified, so no
search_path is switched, and runs in a savepoint under a short statement and lock timeout: a city whose table is
missing, locked by a long migration or whose schema is gone is down, and the others are probed all the same.
One combined read per city; only when it fails are the modules read one by one to say which are down.

A city inside a window it approved (console.maintenance) is recorded as in maintenance for that module, whatever
the check would say. The rule (approved before the window began, not cancelled, the module) is
`window_in_progress`'s; it is asked only for the cities with any approved window in progress (one query a minute),
since asking it for every city and module cost 10 of the 12 ms per city (measured with 200 probes). Nothing is written for a minute the probe did not run: the report counts it as down.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import DatabaseError, connection, transaction
from django.db.models import Model

from apps.booking.models import BookingSettings, Slot
from apps.issuance.models import Card
from apps.security.models import ApiKey, Counter
from console.availability.models import ProbeSample
from console.maintenance.models import MODULES, MaintenanceApproval, Module
from console.maintenance.selectors import window_in_progress
from tenants.models import Municipality

STATEMENT_TIMEOUT_MS = 2000
LOCK_TIMEOUT_MS = 1000
MODULE_TABLES: dict[str, tuple[type[Model], ...]] = {
    Module.BOOKING: (Slot, BookingSettings),
    Module.ISSUANCE: (Card,),
    Module.API: (ApiKey, Counter),
}


@dataclass
class MinuteResult:
    minute: datetime
    probed: int = 0
    down: dict[str, list[int]] = field(default_factory=lambda: {m: [] for m in MODULES})
    maintenance: dict[str, list[int]] = field(default_factory=lambda: {m: [] for m in MODULES})


def minute_of(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def _read_sql(schema: str, models: Iterable[type[Model]]) -> str:
    quote = connection.ops.quote_name
    # One row whatever the tables hold: each EXISTS reads at most one row of its table.
    # Names, not values: the schema and table names are ours (validated [a-z0-9_]), quoted as identifiers.
    parts = [f"EXISTS (SELECT 1 FROM {quote(schema)}.{quote(m._meta.db_table)})" for m in models]  # noqa: S608
    return "SELECT " + ", ".join(parts)


def _answers(schema: str, models: Iterable[type[Model]]) -> bool:
    """True when the city's schema answers the read (a savepoint: a failure leaves the probe's transaction usable)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_read_sql(schema, models))
            cursor.fetchone()
    except DatabaseError:
        return False
    return True


def _modules_up(schema: str, modules: list[str]) -> set[str]:
    if not modules:
        return set()
    if _answers(schema, [m for module in modules for m in MODULE_TABLES[module]]):
        return set(modules)
    return {module for module in modules if _answers(schema, MODULE_TABLES[module])}


def _maybe_in_maintenance(now: datetime) -> set[int]:
    """The cities with an approved window in progress at `now`: a superset of those `window_in_progress` finds."""
    return set(
        MaintenanceApproval.objects.filter(
            status=MaintenanceApproval.Status.APPROVED,
            proposal__window_start__lte=now,
            proposal__window_end__gt=now,
        ).values_list("municipality_id", flat=True)
    )


def probe_cities(cities: Iterable[Municipality], now: datetime) -> MinuteResult:
    """Probe `cities` at `now` (no write): who is down and who in maintenance, per module."""
    result = MinuteResult(minute=minute_of(now))
    maybe = _maybe_in_maintenance(now)
    with transaction.atomic(), connection.cursor() as cursor:
        # SET LOCAL: the limits end with this transaction, not with the worker's connection.
        cursor.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
        cursor.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
        for city in cities:
            result.probed += 1
            checked = []
            for module in MODULES:
                if city.pk in maybe and window_in_progress(city.pk, module, now) is not None:
                    result.maintenance[module].append(city.pk)
                else:
                    checked.append(module)
            up = _modules_up(city.schema_name, checked) if city.is_active else set()
            for module in checked:
                if module not in up:
                    result.down[module].append(city.pk)
    return result


def samples_record(*, now: datetime) -> MinuteResult:
    """Probe every city (the public tenant aside) and store the minute: one row per module. A minute already
    recorded (a second run in the same minute) is kept as first written."""
    cities = (
        Municipality.objects.exclude(schema_name="public").order_by("pk").only("pk", "schema_name", "status")
    )
    result = probe_cities(list(cities), now)
    ProbeSample.objects.bulk_create(
        [
            ProbeSample(
                minute=result.minute,
                module=module,
                probed=result.probed,
                down=result.down[module],
                maintenance=result.maintenance[module],
            )
            for module in MODULES
        ],
        ignore_conflicts=True,
    )
    return result


KEEP_DAYS = 800  # about 26 months: this year's and last year's monthly reports can always be made again


def samples_prune(*, now: datetime, keep_days: int | None = None) -> int:
    """Delete the samples older than `keep_days` (settings.AVAILABILITY_KEEP_DAYS, default KEEP_DAYS); how many.
    Run after every probe: a minute's worth each time, through the (module, minute) index."""
    from django.conf import settings

    days = keep_days if keep_days is not None else int(getattr(settings, "AVAILABILITY_KEEP_DAYS", KEEP_DAYS))
    deleted, _ = ProbeSample.objects.filter(
        module__in=MODULES, minute__lt=now - timedelta(days=days)
    ).delete()
    return deleted
