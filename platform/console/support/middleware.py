"""Support sessions on a city's host (docs/console.md, "Support access").

`SupportNetworkMiddleware` (before the staff network gate): a staff page asked from the vendor's networks, outside
the city's own, is marked so that the gate lets it through; `SupportSessionMiddleware` (after authentication, before
the staff session checks) then lets such a request go on only with a support session. For a support session it
checks on every request that the grant is still in force (else signs out and says so), that the request comes from
the vendor's networks and reads only (GET/HEAD; signing out excepted), tells the staff session checks that the
second factor was shown on the vendor's console, and records each staff page seen in both audit logs.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from apps.security.middleware import SECOND_FACTOR_ELSEWHERE, VENDOR_SUPPORT_NETWORK
from apps.security.network import address_allowed, allowed_networks, client_ip, vendor_networks
from apps.security.request_actor import request_actor
from console.support import services
from console.support.selectors import grant_in_force
from tenants.db import current_schema

GRANT_SESSION_KEY = "support_grant_id"
# The request attribute holding the grant of a support session in force (console.support.context_processors).
SUPPORT_GRANT_ATTR = "support_grant"
# Paths a support session uses: the staff pages and the account pages (signing out).
SUPPORT_PATHS = ("/staff/", "/accounts/")
READ_METHODS = frozenset({"GET", "HEAD"})


def _on_city_host(request: HttpRequest) -> bool:
    return getattr(request, "tenant", None) is not None and current_schema() != "public"


class SupportNetworkMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _on_city_host(request) and request.path.startswith(SUPPORT_PATHS):
            address = client_ip(request)
            if address_allowed(address, vendor_networks()) and not address_allowed(
                address, allowed_networks()
            ):
                setattr(request, VENDOR_SUPPORT_NETWORK, True)
        return self.get_response(request)


def _network_refused(request: HttpRequest) -> HttpResponse:
    return render(request, "errors/network_refused.html", {"address": client_ip(request)}, status=403)


def _ended(request: HttpRequest) -> HttpResponse:
    logout(request)
    return render(request, "console_support/ended.html", status=403)


class SupportSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not _on_city_host(request):
            return self.get_response(request)
        user = request.user
        grant_id = request.session.get(GRANT_SESSION_KEY) if user.is_authenticated else None
        if grant_id is None:
            if services.is_proxy_user(user):
                return _ended(request)
            if getattr(request, VENDOR_SUPPORT_NETWORK, False):
                return _network_refused(request)  # only a support session may come from the vendor's networks
            return self.get_response(request)
        grant = grant_in_force(grant_id=int(grant_id), municipality_id=request.tenant.pk, now=timezone.now())  # type: ignore[attr-defined]
        if grant is None or user.get_username() != services.proxy_username(grant.grantee_username):
            return _ended(request)
        if not address_allowed(client_ip(request), vendor_networks()):
            return _network_refused(request)
        if request.method not in READ_METHODS and request.path != reverse("account_logout"):
            return render(request, "console_support/read_only.html", status=403)
        setattr(request, SECOND_FACTOR_ELSEWHERE, True)
        setattr(request, SUPPORT_GRANT_ATTR, grant)
        response = self.get_response(request)
        if request.path.startswith("/staff/") and request.method in READ_METHODS:
            services.support_used(actor=request_actor(request), grant=grant, path=request.path)
        return response
