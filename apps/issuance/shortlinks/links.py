"""The short address printed under a notice letter's QR code: `<city>/n/<number without hyphen>`.

It opens the city's booking page for a pickup with the notice number filled in (`apps/issuance/shortlinks/urls.py`).
Short and free of letters that are easy to mistype, so a resident can also type it from the paper.
"""

from __future__ import annotations

from apps.booking.reservations.selectors import city_base_url

SHORT_PREFIX = "/n/"


def notice_path(notice_number: str) -> str:
    return f"{SHORT_PREFIX}{notice_number.replace('-', '')}"


def notice_url(notice_number: str, base_url: str = "") -> str:
    """The full address for the QR code; `base_url` defaults to the current city's primary domain."""
    return f"{(base_url or city_base_url()).rstrip('/')}{notice_path(notice_number)}"
