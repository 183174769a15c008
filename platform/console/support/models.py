"""Time-limited support access (public schema): a city's grant to one vendor user, and the one-time entry tickets.

Users live per schema, so the grantee (a vendor user in the public schema) is kept as id and username, never as a
foreign key: from a city's request an ORM relation to the user table would read the city's own users.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

# The longest grant a supervisor may give; the database refuses a longer one too.
MAX_DURATION = timedelta(hours=8)
# How long an entry ticket made on the console stays valid (it is used by the redirect that follows at once).
TICKET_SECONDS = 60


class Scope(models.TextChoices):
    """What a grant opens, read-only: each maps to the city permissions its support group holds (SCOPE_PERMISSIONS)."""

    BOOKING = "booking", _("予約（当日の予約一覧・予約の閲覧）")
    CARDS = "cards", _("カード一覧の閲覧")


# Permission names as apps.security.roles spells them (read-only use: support sessions can send no write).
SCOPE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Scope.BOOKING: ("booking.work_counter",),
    Scope.CARDS: ("issuance.issue_cards",),
}


class SupportGrant(models.Model):
    municipality = models.ForeignKey(
        "tenants.Municipality",
        on_delete=models.CASCADE,
        related_name="support_grants",
        verbose_name=_("自治体"),
    )
    grantee_id = models.BigIntegerField(_("運営事業者の利用者ID"))
    grantee_username = models.CharField(_("運営事業者の担当者"), max_length=150)
    scope = models.CharField(_("範囲"), max_length=16, choices=Scope.choices)
    reason = models.CharField(_("理由"), max_length=500)
    starts_at = models.DateTimeField(_("開始"))
    ends_at = models.DateTimeField(_("終了予定"))
    granted_by = models.CharField(_("許可した管理者"), max_length=150)
    ended_at = models.DateTimeField(_("終了日時"), null=True, blank=True)
    ended_by = models.CharField(_("終了した人"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("サポートアクセス")
        verbose_name_plural = _("サポートアクセス")
        ordering = ["-starts_at", "-pk"]
        indexes = [
            models.Index(fields=["municipality", "grantee_id", "ends_at"], name="support_grant_active")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="support_grant_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__lte=F("starts_at") + MAX_DURATION), name="support_grant_at_most_8_hours"
            ),
        ]

    def __str__(self) -> str:
        return f"SupportGrant:{self.pk}"

    def is_active(self, now: datetime) -> bool:
        return self.ended_at is None and self.starts_at <= now < self.ends_at


class SupportTicket(models.Model):
    """One entry from the console into a city: single use, TICKET_SECONDS long. Only the token's hash is kept."""

    grant = models.ForeignKey(SupportGrant, on_delete=models.CASCADE, related_name="tickets")
    vendor_user_id = models.BigIntegerField()
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"SupportTicket:{self.pk}"
