"""What this session has proven about the second factor (request layer: it reads the session).

A session counts as "passed the second factor" only from its own authentication records, which allauth keeps in
the session as each step of a login or a reauthentication succeeds (a record with method "mfa" is written by the
code or security-key check itself). That a user *has* an authenticator proves nothing about this session: a
session made another way (a form that checks only the password, `force_login`) has no such record.
The secrets themselves (encrypted at rest) are `apps.security.mfa`.
"""

from __future__ import annotations

import time
from typing import Any

from allauth.account import app_settings as account_settings
from allauth.account.authentication import get_authentication_records
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa import signals as mfa_signals
from django.dispatch import receiver
from django.http import HttpRequest

from apps.security.mfa import PRIMARY_TYPES


def _mfa_records(request: HttpRequest, user: Any) -> list[dict[str, Any]]:
    return [r for r in get_authentication_records(request, user) if r.get("method") == "mfa"]


def session_passed_mfa(request: HttpRequest, user: Any) -> bool:
    """This session's own records show a second factor of `user` (at login or a reauthentication since)."""
    return bool(_mfa_records(request, user))


def session_recently_reauthenticated_mfa(request: HttpRequest, user: Any) -> bool:
    """A second-factor reauthentication within ACCOUNT_REAUTHENTICATION_TIMEOUT (a password does not count)."""
    now = time.time()
    return any(
        record.get("reauthenticated")
        and now - float(record.get("at", 0)) < account_settings.REAUTHENTICATION_TIMEOUT
        for record in _mfa_records(request, user)
    )


@receiver(mfa_signals.authenticator_added, dispatch_uid="security.mfa_added_is_proven")
def _authenticator_added(
    sender: Any,
    request: HttpRequest | None = None,
    user: Any = None,
    authenticator: Any = None,
    **kwargs: Any,
) -> None:
    """Adding an app or a key proves it (a valid code, a signed challenge): the session records it as a fresh
    second factor, so the recovery codes shown next need no second prompt."""
    if request is None or authenticator is None or authenticator.type not in PRIMARY_TYPES:
        return
    record_authentication(
        request, user, "mfa", id=authenticator.pk, type=authenticator.type, reauthenticated=True, added=True
    )
