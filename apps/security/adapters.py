"""allauth's account adapter for staff: no sign-up, our lockout on passwords, our client address, and a second
factor (not a password) to reauthenticate for a user who has one."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.utils.translation import gettext as _

from apps.security.lockout import (
    Factor,
    Refused,
    account_of_login,
    attempt_refusal,
    login_failure_record,
    login_success_record,
)
from apps.security.network import client_ip
from apps.security.policy import user_has_mfa
from apps.security.request_actor import request_actor
from apps.security.signs import record_sign

# The reauthentication methods allauth offers that prove a second factor (a code or recovery code, a key).
MFA_REAUTHENTICATION_IDS = ("mfa_reauthenticate", "mfa_reauthenticate:webauthn")


def _login_of(credentials: dict[str, Any]) -> str:
    return str(credentials.get("username") or credentials.get("email") or "")


def refusal_error(refused: Refused) -> forms.ValidationError:
    """The message for an attempt refused before its password or code was checked."""
    if refused is Refused.UNAVAILABLE:
        return forms.ValidationError(
            _("現在ログインを受け付けられません。しばらく待ってから、もう一度お試しください。"),
            code="unavailable",
        )
    return forms.ValidationError(
        _(
            "ログインに続けて失敗したため、一時的にロックされています。"
            "しばらく待つか、管理者にロックの解除を依頼してください。"
        ),
        code="locked",
    )


class StaffAccountAdapter(DefaultAccountAdapter):
    """Staff accounts are created by supervisors (or the vendor), never by sign-up; logins obey the lockout."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def get_client_ip(self, request: HttpRequest) -> str:
        # allauth's own rate limits (ACCOUNT_RATE_LIMITS) count per address too: the address our trusted-proxy
        # rules read, never a client's own X-Forwarded-For, and one bucket for an unreadable one.
        return client_ip(request) or "unknown"

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        # Our lockout (apps.security.lockout) guards passwords. allauth's `login_failed` limit is not consumed here
        # (no super()): it would count the same failures a second time, in the cache, where no supervisor sees or
        # releases it. It stays on for second-factor codes (settings, ACCOUNT_RATE_LIMITS).
        address = client_ip(request)
        refused = attempt_refusal(
            factor=Factor.PASSWORD, account=account_of_login(_login_of(credentials)), address=address
        )
        if refused is not None:
            record_sign("login_failed", address)  # a locked account still being tried is a sign too
            raise refusal_error(refused)

    def authentication_failed(self, request: HttpRequest, **credentials: Any) -> None:
        actor = request_actor(request)
        login_failure_record(actor=actor, login=_login_of(credentials))
        record_sign("login_failed", actor.address)

    def login(self, request: HttpRequest, user: Any) -> None:
        login_success_record(user=user)
        super().login(request, user)

    def get_reauthentication_methods(self, user: AbstractBaseUser | AnonymousUser) -> list[dict[str, Any]]:
        """A user with a second factor reauthenticates with it, never with the password alone: the password may be
        what leaked, and reauthentication opens the pages that show recovery codes or remove the second factor.
        allauth's reauthentication pages redirect a method not listed here to the first one that is."""
        methods: list[dict[str, Any]] = super().get_reauthentication_methods(user)
        if user.is_authenticated and user_has_mfa(user):
            return [method for method in methods if method["id"] in MFA_REAUTHENTICATION_IDS]
        return methods
