"""What resident pages keep in the session, and the per-address and per-session limits as a page answers them
(429 with Retry-After and a page that says how long to wait): the request side of the resident's booking, so that
the views only parse, call a service and render."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from apps.booking.reservations.services import HoldClient
from apps.booking.resident.services import (
    NOTICE_PREFILL_SESSION_KEY,
    Refusal,
    address_hit,
    address_peek,
    cool_down_failed,
    cool_down_passed,
    cool_down_wait,
    rate_hit,
)
from apps.security.counters import subject as counter_subject
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


def hold_client(request: HttpRequest) -> HoldClient:
    """Who asks for a hold: the session (made if needed) and the client address, for the hold caps."""
    return HoldClient(session_key=session_key(request), address=client_ip(request))


def email_link_refusal(request: HttpRequest, email: str) -> Refusal | None:
    """Count a request for an email-first link: per address, per session and per address mailed to."""
    return limit_hit(request, "email_link_ip", "email_link_session") or rate_hit(
        "email_link_address", counter_subject(email.lower())
    )


# --- The booking form of one hold -------------------------------------------------------------------------------
def notice_prefill(request: HttpRequest) -> str:
    """The notice number a notice letter's short link left for this browser's next booking form."""
    return str(request.session.get(NOTICE_PREFILL_SESSION_KEY, ""))


def fixed_email(request: HttpRequest, hold_token: object) -> str:
    """The address an email-first link confirmed for this hold ("" when the resident types one)."""
    return str(request.session.get(FIXED_EMAIL_SESSION_KEY, {}).get(str(hold_token), ""))


def fixed_email_remember(request: HttpRequest, hold_token: object, email: str) -> None:
    fixed = dict(request.session.get(FIXED_EMAIL_SESSION_KEY, {}))
    fixed = dict(list(fixed.items())[-9:])
    fixed[str(hold_token)] = email
    request.session[FIXED_EMAIL_SESSION_KEY] = fixed


def notice_failures_exhausted(request: HttpRequest) -> Refusal | None:
    """Asked before a pickup form is checked: has this address used up its refused notice numbers?"""
    return address_peek("notice_fail_ip", client_ip(request))


def confirm_refusal(request: HttpRequest, notices: list[str], *, valid: bool) -> Refusal | None:
    """Count one submission of the booking form; then, for a valid form, take each notice number's turn of its
    cool-down (slower answers, never a lock: services.COOL_DOWNS)."""
    refusal = limit_hit(request, "confirm_ip", "confirm_session")
    if refusal is None and valid:
        refusal = next((r for r in (cool_down_wait("notice", n) for n in notices) if r), None)
    return refusal


def notice_refused(request: HttpRequest, refused_number: str, notices: list[str]) -> Refusal | None:
    """A notice number + date of birth was refused: counted per number (the cool-down) and per address, so
    guessing dates of birth for one number soon slows down, and guessing numbers from one place soon meets a 429."""
    for number in [refused_number] if refused_number else notices:
        cool_down_failed("notice", number)
    return address_hit("notice_fail_ip", client_ip(request))


def booking_made(request: HttpRequest, code: str, notices: list[str]) -> HttpResponse:
    """The form made (or had already made) booking `code`: forget the notice numbers' failures and the short
    link's number, remember the booking for the done page (this browser only) and go there."""
    for number in notices:
        cool_down_passed("notice", number)
    request.session.pop(NOTICE_PREFILL_SESSION_KEY, None)
    return remember_done(request, code)


def remember_done(request: HttpRequest, code: str) -> HttpResponse:
    done = list(request.session.get(DONE_SESSION_KEY, []))[-9:]
    request.session[DONE_SESSION_KEY] = [*done, code]
    return redirect("booking:done", code=code)
