"""The seam through which other apps take part in booking without booking knowing them.

Issuance registers a check for purposes that need a notice number (the card must exist, in a bookable state, with
that date of birth) and hears of booked, cancelled and no-show reservations. Booking calls whatever is
registered; with nothing registered a notice number is only checked for its shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@contextmanager
def nothing_registered() -> Iterator[None]:
    """No checker and no receiver inside, what was registered again after: booking's tests use it to prove booking
    works alone, whatever the project's other apps plug in at start-up."""
    signals = (reservation_booked, reservation_cancelled, reservation_no_show)
    saved_checkers, saved_receivers = list(_checkers), [signal.receivers[:] for signal in signals]
    _checkers.clear()
    for signal in signals:
        signal.receivers = []
        signal.sender_receivers_cache.clear()
    try:
        yield
    finally:
        _checkers[:] = saved_checkers
        for signal, receivers in zip(signals, saved_receivers, strict=True):
            signal.receivers = receivers
            signal.sender_receivers_cache.clear()
