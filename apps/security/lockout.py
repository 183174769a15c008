"""Lockout after repeated failures, per account and per client address, for passwords and second-factor codes.

Failures are counted in the security counter store (apps.security.counters: atomic, never culled, in each schema,
so each city counts its own), in fixed windows of LOCKOUT_WINDOW_SECONDS: per account, and per address bucket
(`address_buckets`: an IPv4 address, an IPv6 /64 and its /56, so rotating addresses inside one network does not
escape). Password failures and second-factor failures are counted apart (`Factor`), with the same thresholds.
Reaching a threshold writes an AccountLock row, one kind of row for both factors: it refuses the password step and
the code step until it expires or a supervisor releases it, and both events are audited.

The counters fail closed: while the store cannot count, `attempt_refusal()` refuses every attempt (no unlimited
guessing during an outage), but a failure that could not be counted writes no lock (a database hiccup must not
lock a whole office out for half an hour).

A successful password clears its account's password failures (the person who knows it is back); a successful
code does not clear the code failures: an attacker who has the password could otherwise interleave the real
user's logins with guesses.
"""

from __future__ import annotations

import enum
import unicodedata
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.security.actors import Actor
from apps.security.audit import audit_record
from apps.security.counters import counter_clear, counter_hit, counter_peek, subject
from apps.security.models import AccountLock, User
from apps.security.network import address_buckets
from apps.security.roles import MANAGE_SECURITY, ensure_permission


class Factor(enum.StrEnum):
    PASSWORD = "password"  # noqa: S105 (the name of a factor, not a password)
    MFA = "mfa"


FACTOR_SUMMARIES = {Factor.PASSWORD: "パスワード", Factor.MFA: "二要素認証のコード"}


class Refused(enum.Enum):
    LOCKED = "locked"  # an AccountLock row (or a count at the threshold whose row could not be written)
    UNAVAILABLE = "unavailable"  # the counter store cannot count: fail closed


def normalise_login(login: str) -> str:
    return unicodedata.normalize("NFKC", login).strip().lower()


def account_of_login(login: str) -> str:
    """The account a login name means: the user's username when it names one (by username or email, so both
    spellings share one counter and one lock), otherwise the normalised text (a name that does not exist is
    counted and locked like one that does, so the answer does not tell them apart)."""
    text = normalise_login(login)
    if not text:
        return ""
    user = User.objects.filter(Q(username__iexact=text) | Q(email__iexact=text)).only("username").first()
    return normalise_login(user.get_username()) if user is not None else text


def account_of_user(user: Any) -> str:
    return normalise_login(user.get_username())


def _threshold(kind: str) -> int:
    if kind == AccountLock.Kind.ACCOUNT:
        return int(settings.LOCKOUT_ACCOUNT_FAILURES)
    return int(settings.LOCKOUT_ADDRESS_FAILURES)


def _counter_key(factor: Factor, kind: str, key: str) -> str:
    # Hashed: a login name is attacker-chosen text. An address bucket is already plain.
    return f"lockout:{factor}:{kind}:{subject(key) if kind == AccountLock.Kind.ACCOUNT else key}"


def _subjects(account: str, address: str) -> list[tuple[str, str]]:
    subjects = [(AccountLock.Kind.ACCOUNT.value, account)] if account else []
    return subjects + [(AccountLock.Kind.ADDRESS.value, bucket) for bucket in address_buckets(address)]


def lock_active(*, account: str, address: str) -> AccountLock | None:
    """The live lock on this account or on any bucket of this address, if any."""
    buckets = address_buckets(address)
    match = Q(kind=AccountLock.Kind.ADDRESS, key__in=buckets)
    if account:
        match |= Q(kind=AccountLock.Kind.ACCOUNT, key=account)
    return (
        AccountLock.objects.filter(locked_until__gt=timezone.now(), released_at__isnull=True)
        .filter(match)
        .first()
    )


def attempt_refusal(*, factor: Factor, account: str, address: str) -> Refused | None:
    """Why an attempt must be refused before its password or code is even checked, or None."""
    if lock_active(account=account, address=address) is not None:
        return Refused.LOCKED
    kind, key = _subjects(account, address)[0]
    probe = counter_peek(_counter_key(factor, kind, key), fail_closed=True)
    if probe.failed:
        return Refused.UNAVAILABLE
    if probe.count >= _threshold(kind):
        return Refused.LOCKED
    return None


def failure_record(*, factor: Factor, actor: Actor, account: str) -> AccountLock | None:
    """Count one failed password or code by `actor` (who tried, from its address); lock the account or the
    address bucket that reaches its threshold."""
    lock = None
    for kind, key in _subjects(account, actor.address):
        hit = counter_hit(
            _counter_key(factor, kind, key), window=int(settings.LOCKOUT_WINDOW_SECONDS), fail_closed=True
        )
        if hit.failed:
            continue  # logged by the store; attempt_refusal() refuses attempts while it cannot count
        if hit.count >= _threshold(kind):
            lock = _lock(factor=factor, kind=kind, key=key, failures=hit.count, actor=actor) or lock
    return lock


def _lock(*, factor: Factor, kind: str, key: str, failures: int, actor: Actor) -> AccountLock | None:
    now = timezone.now()
    with transaction.atomic():
        if AccountLock.objects.filter(
            kind=kind, key=key, locked_until__gt=now, released_at__isnull=True
        ).exists():
            return None
        lock = AccountLock.objects.create(
            kind=kind,
            key=key,
            failures=failures,
            locked_at=now,
            locked_until=now + timedelta(seconds=settings.LOCKOUT_DURATION_SECONDS),
        )
        audit_record(
            action="auth.lockout",
            actor=actor,
            target=f"AccountLock:{lock.pk}",
            summary=f"{lock.get_kind_display()} {key}: {FACTOR_SUMMARIES[factor]} {failures}",
        )
    return lock


def login_failure_record(*, actor: Actor, login: str) -> AccountLock | None:
    """Count one wrong password typed by `actor` (an anonymous visitor, with its address) for `login`."""
    return failure_record(factor=Factor.PASSWORD, actor=actor, account=account_of_login(login))


def login_success_record(*, user: Any) -> None:
    counter_clear(_counter_key(Factor.PASSWORD, AccountLock.Kind.ACCOUNT, account_of_user(user)))


def mfa_failure_record(*, actor: Actor, user: Any) -> AccountLock | None:
    """Count one wrong second-factor code of `user`, typed by `actor` (at login, before `user` is signed in, or at
    a reauthentication) and audit it."""
    audit_record(
        action="auth.mfa_failed",
        actor=actor,
        target=f"User:{user.pk}",
        summary=f"{user.get_username()}: 二要素認証のコードの誤り",
    )
    return failure_record(factor=Factor.MFA, actor=actor, account=account_of_user(user))


def lock_release(*, lock_id: int, actor: Actor) -> AccountLock:
    """A supervisor unlocks an account or an address before the lock expires."""
    ensure_permission(actor, MANAGE_SECURITY)
    with transaction.atomic():
        lock = AccountLock.objects.select_for_update().get(pk=lock_id)
        if lock.released_at is None:
            lock.released_at = timezone.now()
            lock.released_by = actor.username
            lock.save(update_fields=["released_at", "released_by"])
            # The failures that made the lock, so the next failure does not lock it again at once.
            for factor in Factor:
                counter_clear(_counter_key(factor, lock.kind, lock.key))
            audit_record(
                action="auth.unlock",
                actor=actor,
                target=f"AccountLock:{lock.pk}",
                summary=f"{lock.get_kind_display()} {lock.key}",
            )
    return lock


def locks_active() -> list[AccountLock]:
    return list(AccountLock.objects.filter(locked_until__gt=timezone.now(), released_at__isnull=True))
