"""Lockout after repeated login failures, per account name and per client address.

Failures are counted in the shared cache (every process sees them; keys are tenant-prefixed, so each city counts
its own). Reaching a threshold writes an AccountLock row, which refuses logins until it expires or a supervisor
releases it; both events are audited.
"""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from apps.security.audit import audit_record
from apps.security.models import AccountLock
from apps.security.roles import MANAGE_SECURITY, ensure_permission


def normalise_login(login: str) -> str:
    return unicodedata.normalize("NFKC", login).strip().lower()


def _counter_key(kind: str, key: str) -> str:
    # Hashed: a login name is attacker-chosen text, not a safe cache key.
    return f"security:login-failures:{kind}:{hashlib.sha256(key.encode()).hexdigest()}"


def _thresholds() -> dict[str, int]:
    return {
        AccountLock.Kind.ACCOUNT: settings.LOCKOUT_ACCOUNT_FAILURES,
        AccountLock.Kind.ADDRESS: settings.LOCKOUT_ADDRESS_FAILURES,
    }


def _count(kind: str, key: str) -> int:
    counter = _counter_key(kind, key)
    # add() then incr(): atomic on Redis; Django's database cache reads and writes, so concurrent failures may
    # lose a count there, and a lock comes a failure or two later. The lock itself is a database row.
    cache.add(counter, 0, settings.LOCKOUT_WINDOW_SECONDS)
    try:
        return int(cache.incr(counter))
    except ValueError:  # expired between add and incr
        cache.add(counter, 1, settings.LOCKOUT_WINDOW_SECONDS)
        return 1


def lock_active(*, login: str, address: str) -> AccountLock | None:
    now = timezone.now()
    return (
        AccountLock.objects.filter(locked_until__gt=now, released_at__isnull=True)
        .filter(
            Q(kind=AccountLock.Kind.ACCOUNT, key=normalise_login(login))
            | Q(kind=AccountLock.Kind.ADDRESS, key=address)
        )
        .first()
    )


def login_failure_record(*, request: HttpRequest | None, login: str, address: str) -> AccountLock | None:
    """Count one failed login; lock the account or the address when its threshold is reached."""
    lock = None
    for kind, key in (
        (AccountLock.Kind.ACCOUNT, normalise_login(login)),
        (AccountLock.Kind.ADDRESS, address),
    ):
        if not key:
            continue
        failures = _count(kind, key)
        if failures < _thresholds()[kind]:
            continue
        now = timezone.now()
        with transaction.atomic():
            if AccountLock.objects.filter(
                kind=kind, key=key, locked_until__gt=now, released_at__isnull=True
            ).exists():
                continue
            lock = AccountLock.objects.create(
                kind=kind,
                key=key,
                failures=failures,
                locked_at=now,
                locked_until=now + timedelta(seconds=settings.LOCKOUT_DURATION_SECONDS),
            )
            audit_record(
                action="auth.lockout",
                request=request,
                target=f"AccountLock:{lock.pk}",
                summary=f"{lock.get_kind_display()} {key}: {failures}",
            )
    return lock


def login_success_record(*, login: str) -> None:
    cache.delete(_counter_key(AccountLock.Kind.ACCOUNT, normalise_login(login)))


def lock_release(*, lock_id: int, actor: Any, request: HttpRequest | None = None) -> AccountLock:
    """A supervisor unlocks an account or an address before the lock expires."""
    ensure_permission(actor, MANAGE_SECURITY)
    with transaction.atomic():
        lock = AccountLock.objects.select_for_update().get(pk=lock_id)
        if lock.released_at is None:
            lock.released_at = timezone.now()
            lock.released_by = actor.get_username()
            lock.save(update_fields=["released_at", "released_by"])
            cache.delete(_counter_key(lock.kind, lock.key))
            audit_record(
                action="auth.unlock",
                request=request,
                actor=actor,
                target=f"AccountLock:{lock.pk}",
                summary=f"{lock.get_kind_display()} {lock.key}",
            )
    return lock


def locks_active() -> list[AccountLock]:
    return list(AccountLock.objects.filter(locked_until__gt=timezone.now(), released_at__isnull=True))
