"""What resident pages keep in the session, and the per-address and per-session limits as a page answers them
(429 with Retry-After and a page that says how long to wait)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from apps.booking.resident.services import (
    Refusal,
    address_hit,
    rate_hit,
)
from apps.security.network import client_ip

DONE_SESSION_KEY = "booking_done"


FIXED_EMAIL_SESSION_KEY = "booking_fixed_email"  # hold token -> the address confirmed by an email-first link


RESIDENT_SESSION_KEY = "booking_resident"  # marks a session made for the per-session limits


def session_key(request: HttpRequest) -> str:
    """The resident's session key for the per-session limits and hold caps, making a session when there is none.

    Only POST handlers call this: the cached calendar page never makes or reads a session for itself."""
    session = request.session
    if not session.session_key:
        session[RESIDENT_SESSION_KEY] = True  # modified: the middleware sends the cookie
        session.save()
    return str(session.session_key or "")


def limit_hit(request: HttpRequest, address_name: str, session_name: str) -> Refusal | None:
    """Count one attempt against the address buckets (generous) and the session (tight)."""
    return address_hit(address_name, client_ip(request)) or rate_hit(session_name, session_key(request))


def wait_label(seconds: int) -> str:
    if seconds < 60:
        return _("%(seconds)d秒後") % {"seconds": seconds}
    return _("%(minutes)d分後") % {"minutes": (seconds + 59) // 60}


def retry_after(response: HttpResponse, refusal: Refusal | int) -> HttpResponse:
    seconds = refusal.retry_after if isinstance(refusal, Refusal) else refusal
    response["Retry-After"] = str(max(1, int(seconds)))
    return response


def too_many(request: HttpRequest, refusal: Refusal, context: dict[str, Any] | None = None) -> HttpResponse:
    page = {**(context or {}), "retry_after_label": wait_label(refusal.retry_after)}
    return retry_after(render(request, "booking/resident/too_many.html", page, status=429), refusal)
