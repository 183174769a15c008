"""Staff access: the network gate before anything else, then session lifetime and the second factor.

Staff paths are those under STAFF_PATH_PREFIXES (login included); every other path of a city is a resident page
and stays public.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.security.audit import audit_record
from apps.security.models import SecurityPolicy
from apps.security.network import address_allowed, allowed_networks, client_ip, vendor_networks
from apps.security.policy import mfa_required, policy_get, user_has_mfa
from apps.security.signs import record_sign
from tenants.db import current_schema

STAFF_PATH_PREFIXES = ("/accounts/", "/staff/", "/api/", "/console/")
# Pages a signed-in user without a second factor may still use: enrolling one, and leaving.
MFA_SETUP_PREFIXES = ("/accounts/",)
_SEEN_AT_RESOLUTION = timedelta(seconds=60)


def is_staff_path(path: str) -> bool:
    return path.startswith(STAFF_PATH_PREFIXES)


class StaffNetworkMiddleware:
    """Refuse staff pages from outside the city's allowed networks (the vendor's, on the public host)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_staff_path(request.path) and getattr(request, "tenant", None) is not None:
            address = client_ip(request)
            networks = vendor_networks() if current_schema() == "public" else allowed_networks()
            if not address_allowed(address, networks):
                audit_record(
                    action="network.refused", request=request, target=request.path[:200], summary=address
                )
                record_sign("network_refused", address)
                return render(request, "errors/network_refused.html", {"address": address}, status=403)
        return self.get_response(request)


def _stamp(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class StaffSessionMiddleware:
    """Idle and absolute timeouts, "log out everywhere", and the second factor where the policy requires it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not user.is_authenticated or getattr(request, "tenant", None) is None:
            return self.get_response(request)
        policy = policy_get()
        ended = self._session_ended(request, policy)
        if ended:
            logout(request)
            messages.info(request, ended)
            return HttpResponseRedirect(f"{settings.LOGIN_URL}?next={request.path}")
        if (
            is_staff_path(request.path)
            and not request.path.startswith(MFA_SETUP_PREFIXES)
            and mfa_required(user, policy)
            and not user_has_mfa(user)
        ):
            messages.warning(request, _("この画面を使うには、二要素認証の設定が必要です。"))
            return HttpResponseRedirect("/accounts/2fa/")
        return self.get_response(request)

    @staticmethod
    def _session_ended(request: HttpRequest, policy: SecurityPolicy) -> str | None:
        session = request.session
        now = timezone.now()
        if session.get("security_epoch") != request.user.session_epoch:  # type: ignore[union-attr]
            return _("すべての端末からログアウトしました。もう一度ログインしてください。")
        auth_at = _stamp(session.get("security_auth_at"))
        if auth_at is None or now - auth_at > timedelta(hours=policy.absolute_timeout_hours):
            return _("ログインの有効時間が過ぎました。もう一度ログインしてください。")
        seen_at = _stamp(session.get("security_seen_at")) or auth_at
        if now - seen_at > timedelta(minutes=policy.idle_timeout_minutes):
            return _("一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください。")
        if now - seen_at > _SEEN_AT_RESOLUTION:  # save the session at most once a minute
            session["security_seen_at"] = now.isoformat()
        return None


def session_started(request: HttpRequest, user: object) -> None:
    """Called on login (user_logged_in): the stamps the middleware checks."""
    now = timezone.now().isoformat()
    request.session["security_auth_at"] = now
    request.session["security_seen_at"] = now
    request.session["security_epoch"] = getattr(user, "session_epoch", 0)
