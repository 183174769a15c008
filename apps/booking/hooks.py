"""The seam through which other apps take part in booking without booking knowing them.

Issuance registers a check for purposes that need a notice number (the card must exist, in a bookable state, with
that date of birth) and hears of booked, cancelled and no-show reservations. Booking calls whatever is
registered; with nothing registered a notice number is only checked for its shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.dispatch import Signal


@dataclass(frozen=True)
class NoticeCheck:
    notice_number: str
    birth_date: date
    purpose_code: str


# A check returns None when the pair is acceptable, or a message for the resident. It must give the same message
# for an unknown number and a wrong date of birth (nobody may probe who has a card).
NoticeChecker = Callable[[NoticeCheck], str | None]
_checkers: list[NoticeChecker] = []


def register_notice_checker(checker: NoticeChecker) -> None:
    if checker not in _checkers:
        _checkers.append(checker)


def unregister_notice_checker(checker: NoticeChecker) -> None:
    if checker in _checkers:
        _checkers.remove(checker)


def check_notice(check: NoticeCheck) -> str | None:
    for checker in _checkers:
        problem = checker(check)
        if problem:
            return problem
    return None


# Sent inside the booking's transaction, with `reservation` (its persons are written) and `actor` (the staff user
# when staff act, None for the resident): a receiver's failure undoes the write; raise a BookingError subclass to
# give the person a message.
reservation_booked = Signal()
reservation_cancelled = Signal()
reservation_no_show = Signal()


def send(signal: Signal, **kwargs: Any) -> None:
    signal.send(sender="booking", **kwargs)
