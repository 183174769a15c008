"""What booking's services refuse with: a message the resident or the staff member can act on. Below every feature
package, so that calendar, reservations, resident and staff raise and catch the same classes."""

from __future__ import annotations


class BookingError(Exception):
    """A refusal the resident or the staff member can act on; `str(error)` is the message in their language."""


class SlotFullError(BookingError):
    pass


class OutsideWindowError(BookingError):
    pass


class NoticeRefusedError(BookingError):
    """A notice number and date of birth the registered check (or a `reservation_booked` receiver) refused.

    Its own class so the resident pages can count failed pairs per address (services_resident.RATE_LIMITS) and
    per notice number (`notice_number`, when the check knows which one; services_resident.COOL_DOWNS)."""

    def __init__(self, message: str, *, notice_number: str = "") -> None:
        super().__init__(message)
        self.notice_number = notice_number


class HoldLimitError(BookingError):
    """The resident's session or address already holds as many seats as it may (HOLDS_PER_SESSION/ADDRESS)."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
