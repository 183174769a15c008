from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.http import HttpRequest
from django.utils.translation import gettext as _

from apps.security.lockout import lock_active, login_failure_record, login_success_record
from apps.security.network import client_ip
from apps.security.signs import record_sign


def _login_of(credentials: dict[str, Any]) -> str:
    return str(credentials.get("username") or credentials.get("email") or "")


class StaffAccountAdapter(DefaultAccountAdapter):
    """Staff accounts are created by supervisors (or the vendor), never by sign-up; logins obey the lockout."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        # The lockout below replaces allauth's own login_failed rate limit (ACCOUNT_RATE_LIMITS), so that a
        # supervisor can see and release it.
        address = client_ip(request)
        if lock_active(login=_login_of(credentials), address=address):
            record_sign("login_failed", address)  # a locked account still being tried is a sign too
            raise forms.ValidationError(
                _(
                    "ログインに続けて失敗したため、一時的にロックされています。"
                    "しばらく待つか、管理者にロックの解除を依頼してください。"
                ),
                code="locked",
            )
        super().pre_authenticate(request, **credentials)

    def authentication_failed(self, request: HttpRequest, **credentials: Any) -> None:
        address = client_ip(request)
        login_failure_record(request=request, login=_login_of(credentials), address=address)
        record_sign("login_failed", address)

    def login(self, request: HttpRequest, user: Any) -> None:
        login_success_record(login=user.get_username())
        super().login(request, user)
