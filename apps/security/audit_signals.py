"""Logins, logouts and failed logins go to the audit log (connected from SecurityConfig.ready())."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from apps.security.audit import audit_record

# The keys a login form sends the login name under (Django: username; allauth: username or email, phone).
# The password is never read: Django masks it before the signal, and this code does not look for it anyway.
_LOGIN_KEYS = ("username", "email", "login", "phone")


@receiver(user_logged_in, dispatch_uid="security.audit_login")
def _audit_login(sender: Any, request: HttpRequest | None = None, user: Any = None, **kwargs: Any) -> None:
    audit_record(action="auth.login", request=request, actor=user, target=f"User:{user.pk}")


@receiver(user_logged_out, dispatch_uid="security.audit_logout")
def _audit_logout(sender: Any, request: HttpRequest | None = None, user: Any = None, **kwargs: Any) -> None:
    if user is None:  # logging out without being logged in: nothing happened
        return
    audit_record(action="auth.logout", request=request, actor=user, target=f"User:{user.pk}")


@receiver(user_login_failed, dispatch_uid="security.audit_login_failed")
def _audit_login_failed(
    sender: Any, credentials: dict[str, Any] | None = None, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    given = credentials or {}
    login = next((str(given[key]) for key in _LOGIN_KEYS if given.get(key)), "")
    audit_record(
        action="auth.login_failed",
        request=request,
        target=f"login:{login}",
        summary="パスワードまたはログイン名の誤り",
    )
