"""Logins, logouts and failed logins go to the audit log (connected from SecurityConfig.ready()).

These receivers are at the edge, like views: Django hands them the request, and they build the actor from it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from apps.security.actors import Actor
from apps.security.audit import audit_record
from apps.security.request_actor import request_actor

# The keys a login form sends the login name under (Django: username; allauth: username or email, phone).
# The password is never read: Django masks it before the signal, and this code does not look for it anyway.
_LOGIN_KEYS = ("username", "email", "login", "phone")


def _actor_of(request: HttpRequest | None, user: Any) -> Actor:
    """`user` (who logged in or out) with the request's address and request id, when there is a request."""
    if request is None:
        return Actor.of_user(user)
    where = request_actor(request)
    return Actor.of_user(user, address=where.address, request_id=where.request_id)


@receiver(user_logged_in, dispatch_uid="security.audit_login")
def _audit_login(sender: Any, request: HttpRequest | None = None, user: Any = None, **kwargs: Any) -> None:
    audit_record(action="auth.login", actor=_actor_of(request, user), target=f"User:{user.pk}")


@receiver(user_logged_out, dispatch_uid="security.audit_logout")
def _audit_logout(sender: Any, request: HttpRequest | None = None, user: Any = None, **kwargs: Any) -> None:
    if user is None:  # logging out without being logged in: nothing happened
        return
    audit_record(action="auth.logout", actor=_actor_of(request, user), target=f"User:{user.pk}")


@receiver(user_login_failed, dispatch_uid="security.audit_login_failed")
def _audit_login_failed(
    sender: Any, credentials: dict[str, Any] | None = None, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    given = credentials or {}
    login = next((str(given[key]) for key in _LOGIN_KEYS if given.get(key)), "")
    # The visitor who tried (anonymous, with its address); without a request (a shell, a test), the system.
    actor = request_actor(request) if request is not None else Actor.system()
    audit_record(
        action="auth.login_failed",
        actor=actor,
        target=f"login:{login}",
        summary="パスワードまたはログイン名の誤り",
    )
