"""The booking mails' outbox: one row per confirmation, change or cancellation mail to send.

Written in the transaction that books, moves or cancels (a booking never exists without its mail row), sent after
the commit by whoever claims the row first (the worker, the request when the broker is down, or the periodic scan
when the broker lost the message): apps.booking.reservations.outbox.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from apps.booking.models import Reservation


class BookingMail(models.Model):
    """One booking mail. `claimed_at` set by the one sender that took it; `sent_at` once it left; a failure leaves
    `last_error` for the scan to retry (up to the outbox's MAX_ATTEMPTS). Claimed, no error, never sent: the
    sender died mid-send, so the mail may have left; never retried (staff see it as unknown)."""

    reservation = models.ForeignKey(Reservation, on_delete=models.CASCADE, related_name="booking_mails")
    kind = models.CharField(max_length=20)  # apps.booking.reservations.mail.KINDS
    base_url = models.CharField(max_length=200, blank=True)  # the address the resident used, for the links
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        # The scan reads only the unsent rows: a small partial index, however many mails were sent.
        indexes = [
            models.Index(fields=["created_at"], name="booking_mail_unsent", condition=Q(sent_at__isnull=True))
        ]

    def __str__(self) -> str:
        return f"{self.reservation_id}:{self.kind}"
