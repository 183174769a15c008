"""The short link under a notice letter's QR code (`links.notice_path`): `/n/<number>` opens the pickup booking
with the number filled in.

The number is only normalised, never looked up: the link answers the same for every well-formed number, so it
tells nobody whether a card exists. The booking form's check (booking_link.notice_check) gives the one answer.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from apps.booking.models import Purpose
from apps.booking.resident.selectors import purposes_active
from apps.booking.resident.services import notice_prefill_remember
from base.japanese import notice_number_normalise

PICKUP_CODE = "pickup"


def _pickup_purpose() -> Purpose | None:
    """The city's purpose that takes a notice number: `pickup` if the city kept the default code, else the first."""
    candidates = [p for p in purposes_active() if p.requires_notice_number]
    return next((p for p in candidates if p.code == PICKUP_CODE), candidates[0] if candidates else None)


@require_GET
def notice_link(request: HttpRequest, number: str) -> HttpResponse:
    normalised = notice_number_normalise(number)
    purpose = _pickup_purpose() if normalised else None
    if normalised is None or purpose is None:
        return redirect("booking:purposes")
    notice_prefill_remember(request.session, normalised)
    return redirect("booking:calendar", purpose_code=purpose.code)
