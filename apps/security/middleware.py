"""Staff access: the network gate before anything else, then session lifetime and the second factor.

Staff paths are those under STAFF_PATH_PREFIXES (login included); every other path of a city is a resident page
and stays public.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from allauth.account.adapter import get_adapter as get_account_adapter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from apps.security.audit import audit_record
from apps.security.counters import counter_hit
from apps.security.mfa_session import session_passed_mfa, session_recently_reauthenticated_mfa
from apps.security.models import SecurityPolicy
from apps.security.network import (
    address_allowed,
    address_buckets,
    allowed_networks,
    client_ip,
    vendor_networks,
)
from apps.security.policy import mfa_required, policy_get, user_has_mfa
from apps.security.request_actor import request_actor
from apps.security.signs import HTTP_4XX, record_sign
from base.mynumber import contains_individual_number
from base.problems import problem_response
from tenants.db import current_schema

STAFF_PATH_PREFIXES = ("/accounts/", "/staff/", "/api/", "/console/")
API_PATH_PREFIX = "/api/"  # the REST API answers problem details (base.problems), never an HTML page
# Pages a signed-in user without a second factor may still use: enrolling one, and leaving.
MFA_SETUP_PREFIXES = ("/accounts/",)
_SEEN_AT_RESOLUTION = timedelta(seconds=60)


# Request attributes other layers set (security must not import them): a request from the vendor's networks that
# only a support session may use, and a session whose second factor was shown elsewhere (on the vendor's console).
VENDOR_SUPPORT_NETWORK = "vendor_support_network"
SECOND_FACTOR_ELSEWHERE = "second_factor_elsewhere"


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
            # VENDOR_SUPPORT_NETWORK: set only for an address in the vendor's networks by the support middleware
            # (console.support), which lets such a request go on only with an active support session.
            if not address_allowed(address, networks) and not getattr(request, VENDOR_SUPPORT_NETWORK, False):
                _count_refusal(request, address)
                shown = address or _("不明")  # unknown: behind a proxy that did not say who connected
                if request.path.startswith(API_PATH_PREFIX):
                    return problem_response("network_refused", instance=request.path)
                return render(request, "errors/network_refused.html", {"address": shown}, status=403)
        return self.get_response(request)


# Sample rows per schema and window, whatever the number of addresses: an attacker with many addresses (a large
# IPv6 block holds many /56s) still adds a bounded number of rows. Every refusal is counted regardless.
REFUSAL_SAMPLES_PER_WINDOW = 50


def _count_refusal(request: HttpRequest, address: str) -> None:
    """Count a refusal by network; audit only the first per address bucket and window, as a sample.

    An audit row per refusal let a flood grow a table that is never pruned and queue staff writes behind the
    audit chain's lock. The counters (one statement each, in the schema's own table, so per city) carry the
    volume, the attack sign reports it to the vendor, and the sample row tells the city who was refused. A store
    failure counts as "not the first" (fail_closed), so it never turns into a row per request.
    """
    record_sign("network_refused", address)
    window = int(settings.ATTACK_SIGN_WINDOW_SECONDS)
    hits = [
        counter_hit(f"netrefused:{bucket}", window=window, fail_closed=True)
        for bucket in address_buckets(address)
    ]
    # The widest bucket decides (for IPv6 its /56): a client rotating /64s inside one site is one sample.
    if hits[-1].count != 1:
        return
    if counter_hit("netrefused:samples", window=window, fail_closed=True).over(REFUSAL_SAMPLES_PER_WINDOW):
        return
    audit_record(
        action="network.refused",
        actor=request_actor(request),
        target=request.path[:200],
        summary=_(
            "%(address)s からの接続を拒否しました。この接続元からの以降の拒否は、%(minutes)d分間は件数のみ数えます。"
        )
        % {"address": address or _("不明な接続元"), "minutes": max(1, window // 60)},
    )


# A UUID is ours, not typed: its groups may line up as 12 digits that pass the check digit ("…-9a0b-123456789018"
# or "12345678-1234-…"), about once in three thousand random ids, so a resident's own hold page would be refused.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _typed(text: str) -> str:
    return _UUID.sub("/", text)


def address_holds_individual_number(request: HttpRequest) -> bool:
    """The request's path or one of its query parameters (name or value, decoded) holds a 個人番号 (the UUIDs our
    own pages put in addresses are left out)."""
    if contains_individual_number(_typed(request.path)):
        return True
    return any(
        contains_individual_number(_typed(name)) or contains_individual_number(_typed(value))
        for name, value in parse_qsl(request.META.get("QUERY_STRING", ""), keep_blank_values=True)
    )


class IndividualNumberInAddressMiddleware:
    """Refuse (400) any request whose address holds a 個人番号, on every host and page.

    Forms refuse the number and searches are posted (apps/security/searches.py), so no page of ours makes such an
    address; one typed by hand or kept in a bookmark must not be echoed back either: pages copy their own query
    string into links (pagination, filters, CSV links, the language switch's `next`). The log filter masks it in
    the access log (madoguchi.logs).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if address_holds_individual_number(request):
            if request.path.startswith(API_PATH_PREFIX):
                return problem_response("individual_number")  # never echoes the path
            # The language switch returns to the top page, not to the address that held the number.
            return render(request, "errors/individual_number.html", {"language_next": "/"}, status=400)
        return self.get_response(request)


def _stamp(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class StaffSessionMiddleware:
    """Idle and absolute timeouts, "log out everywhere", and the second factor on every staff path.

    The second factor is judged from this session's own authentication records (apps.security.mfa_session), never from
    the user merely having an authenticator: a session made without the code (a form that checks only the
    password, `force_login`) is sent to enter it before any staff, console or account page. Pages that show or
    change the second factor (recovery codes, adding or removing an app or a key) need it entered again within
    ACCOUNT_REAUTHENTICATION_TIMEOUT. A user who needs a second factor and has none is sent to set one up.
    """

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
            return HttpResponseRedirect(f"{settings.LOGIN_URL}?{urlencode({'next': request.path})}")
        if is_staff_path(request.path):
            refused = _second_factor_refusal(request, user, policy)
            if refused is not None:
                return refused
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


# Pages a session may use before it has shown the second factor: showing it, and leaving.
_SHOWING_THE_SECOND_FACTOR = ("account_logout", "mfa_reauthenticate", "mfa_reauthenticate_webauthn")
# Pages under the second factor's own section that show no secret and change nothing; every other page there
# (recovery codes, adding or removing an app or a key) needs a fresh second-factor reauthentication.
_MFA_PAGES_WITHOUT_REAUTHENTICATION = ("mfa_index", "mfa_authenticate", *_SHOWING_THE_SECOND_FACTOR[1:])


def _paths(names: tuple[str, ...]) -> set[str]:
    paths = set()
    for name in names:
        try:
            paths.add(reverse(name))
        except NoReverseMatch:  # a method switched off in settings (e.g. security keys)
            continue
    return paths


def _second_factor_refusal(request: HttpRequest, user: Any, policy: SecurityPolicy) -> HttpResponse | None:
    if getattr(request, SECOND_FACTOR_ELSEWHERE, False):
        return None
    path = request.path
    if not user_has_mfa(user):
        if mfa_required(user, policy) and not path.startswith(MFA_SETUP_PREFIXES):
            messages.warning(request, _("この画面を使うには、二要素認証の設定が必要です。"))
            return HttpResponseRedirect(reverse("mfa_index"))
        return None
    if path in _paths(_SHOWING_THE_SECOND_FACTOR):
        return None
    if not session_passed_mfa(request, user):
        messages.warning(request, _("この画面を使うには、二要素認証のコードでの確認が必要です。"))
        return _to_second_factor(request, user)
    if (
        path.startswith(reverse("mfa_index"))
        and path not in _paths(_MFA_PAGES_WITHOUT_REAUTHENTICATION)
        and not session_recently_reauthenticated_mfa(request, user)
    ):
        messages.info(request, _("二要素認証の設定を表示・変更するには、もう一度コードを入力してください。"))
        return _to_second_factor(request, user)
    return None


def _to_second_factor(request: HttpRequest, user: Any) -> HttpResponse:
    """allauth's second-factor reauthentication page, which comes back to this page when the code is right."""
    methods = get_account_adapter(request).get_reauthentication_methods(user)
    url = methods[0]["url"] if methods else reverse("mfa_reauthenticate")
    return HttpResponseRedirect(f"{url}?{urlencode({'next': request.get_full_path()})}")


def session_started(request: HttpRequest, user: object) -> None:
    """Called on login (user_logged_in): the stamps the middleware checks."""
    now = timezone.now().isoformat()
    request.session["security_auth_at"] = now
    request.session["security_seen_at"] = now
    request.session["security_epoch"] = getattr(user, "session_epoch", 0)


class AttackSignMiddleware:
    """Counts every 4xx response per client address ("http_4xx"): a storm of them from one address is a scan.

    404s under STATIC_URL are not counted: after a deploy, pages cached in browsers ask for assets that have
    gone, which is no attack.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.static_prefix = str(settings.STATIC_URL or "/static/")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        status = response.status_code
        # 409 is "just taken" in a booking rush, an ordinary outcome for many residents behind one carrier NAT.
        if (
            400 <= status < 500
            and status != 409
            and not (status == 404 and request.path.startswith(self.static_prefix))
        ):
            record_sign(HTTP_4XX, client_ip(request))
        return response
