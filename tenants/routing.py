"""Host → city from a map each process keeps in memory, instead of a query per request.

The map holds every host (a few thousand rows even for all 1,741 cities), loaded at once. Every write to a city or
a host bumps `RoutingVersion` in the same transaction (`routes_changed`: the signals below for saves and deletes,
and the services that write with `queryset.update()` call it themselves). Each process reads that version at most
once every `TENANT_ROUTES_POLL_SECONDS` (1 s) and reloads the map when it differs: a suspended city or a new host
takes effect in every process within that bound, and in the writing process at once.

A write that is rolled back (a test's transaction) leaves a map loaded from rows that never committed: the next
request after the transaction ended checks the version again, which is back to the committed one.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from tenants.models import Domain, Municipality

_VERSION_SQL = "SELECT version FROM public.tenants_routingversion WHERE id = 1"
# A random new version, not version + 1: a rolled-back bump must never reappear as a later write's version (a
# process that loaded the map inside the rolled-back transaction would take that later write for the one it saw).
_BUMP_SQL = (
    "INSERT INTO public.tenants_routingversion (id, version) VALUES (1, floor(random() * 9e18)::bigint) "
    "ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version"
)


@dataclass(frozen=True)
class _Routes:
    version: int
    hosts: dict[str, Municipality] = field(default_factory=dict)


class RouteMap:
    """The process's map; `tenant_for(hostname)` is a dictionary lookup, plus one small query a second at most."""

    def __init__(self) -> None:
        self._routes: _Routes | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self._pending: Any = (
            None  # the outermost atomic block (the transaction) of a local write, until it ends
        )

    def tenant_for(self, hostname: str) -> Municipality | None:
        routes = self._current()
        return routes.hosts.get(hostname)

    @property
    def version(self) -> int:
        return self._current().version

    def expire(self) -> None:
        """Check the version on the next request (after a local write; tests use it instead of sleeping)."""
        self._checked_at = float("-inf")

    def forget(self) -> None:
        """Drop the map: the next request reloads it."""
        with self._lock:
            self._routes = None
            self._checked_at = float("-inf")

    def written(self) -> None:
        """A write in this process: check on the next request, and again once its transaction is over."""
        self.expire()
        if connection.in_atomic_block:
            self._pending = connection.atomic_blocks[0]
            transaction.on_commit(self.expire)

    def _current(self) -> _Routes:
        if self._pending is not None and not self._still_in(self._pending):
            self._pending = None
            self.expire()
        routes = self._routes
        now = time.monotonic()
        poll = float(getattr(settings, "TENANT_ROUTES_POLL_SECONDS", 1.0))
        if routes is not None and now - self._checked_at < poll:
            return routes
        with self._lock:
            if self._routes is not None and time.monotonic() - self._checked_at < poll:
                return self._routes  # another thread checked while this one waited for the lock
            version = _read_version()
            if self._routes is None or self._routes.version != version:
                self._routes = _Routes(version=version, hosts=_load())
            # Only now: until the new map is in place, other threads must wait for it here rather than be told
            # that the old one is fresh (a new city's host would be "not found" for them meanwhile).
            self._checked_at = now
            return self._routes

    @staticmethod
    def _still_in(outermost: Any) -> bool:
        return bool(connection.atomic_blocks) and connection.atomic_blocks[0] is outermost


def _read_version() -> int:
    """The version, on the driver's own cursor: schema-qualified, so no `SET search_path` before it, and outside
    Django's query log (it runs at most once a second per process, not per request, so the per-page query counts
    the tests pin do not depend on where a second boundary falls)."""
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.cursor() as cursor:
        cursor.execute(_VERSION_SQL)
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _load() -> dict[str, Municipality]:
    # Each host gets its own instance (select_related makes one per row), with domain_url set as django-tenants does.
    hosts: dict[str, Municipality] = {}
    for domain in Domain.objects.select_related("tenant"):
        tenant = domain.tenant
        tenant.domain_url = domain.domain
        hosts[domain.domain] = tenant
    return hosts


ROUTES = RouteMap()


def routes_changed() -> None:
    """Bump the routing version in the caller's transaction: every process reloads its map within a second."""
    with connection.cursor() as cursor:
        cursor.execute(_BUMP_SQL)
    ROUTES.written()


def _changed(sender: Any, **kwargs: Any) -> None:
    routes_changed()


def connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save

    for model in (Municipality, Domain):
        name = model.__name__
        post_save.connect(_changed, sender=model, dispatch_uid=f"tenants.routes.save.{name}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"tenants.routes.delete.{name}")
