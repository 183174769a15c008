"""A maintenance window the vendor proposes to some cities, and each city's answer (in the public schema).

The window's notice is a base.notices.BilingualNotice: its title and body say what and why, and its display period
(`starts_at`–`ends_at`) runs from MAINTENANCE_NOTICE_DAYS before the window until the window's end. It applies to a
city only once that city's supervisor approved it before the window began; a cancelled window applies nowhere.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from base.notices import BilingualNotice, ends_after_start, window_open


class Module(models.TextChoices):
    BOOKING = "booking", _("予約")
    ISSUANCE = "issuance", _("交付")
    API = "api", _("API")


MODULES = [m.value for m in Module]


class MaintenanceProposal(BilingualNotice):
    window_start = models.DateTimeField(_("メンテナンス開始"))
    window_end = models.DateTimeField(_("メンテナンス終了"))
    modules = ArrayField(
        models.CharField(max_length=16, choices=Module.choices), verbose_name=_("対象の機能")
    )
    cities = models.ManyToManyField(
        "tenants.Municipality",
        through="MaintenanceApproval",
        related_name="maintenance_proposals",
        verbose_name=_("対象の市区町村"),
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("提案者"),
    )
    cancelled_at = models.DateTimeField(_("取消日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("メンテナンス")
        verbose_name_plural = _("メンテナンス")
        ordering = ["window_start", "pk"]
        constraints = [
            ends_after_start("maintenance_proposal_ends_after_start"),
            models.CheckConstraint(
                condition=Q(window_end__gt=F("window_start")),
                name="maintenance_proposal_window_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(modules__len__gt=0) & Q(modules__contained_by=MODULES),
                name="maintenance_proposal_known_modules",
            ),
        ]

    def in_progress(self, now: datetime) -> bool:
        return window_open(self.window_start, self.window_end, now)


class MaintenanceApproval(models.Model):
    """One city's answer to one window. The supervisor lives in the city's schema: kept by id and name."""

    class Status(models.TextChoices):
        PENDING = "pending", _("承認待ち")
        APPROVED = "approved", _("承認")
        REJECTED = "rejected", _("却下")

    proposal = models.ForeignKey(MaintenanceProposal, on_delete=models.CASCADE, related_name="approvals")
    municipality = models.ForeignKey(
        "tenants.Municipality", on_delete=models.CASCADE, related_name="maintenance_approvals"
    )
    status = models.CharField(_("状態"), max_length=16, choices=Status.choices, default=Status.PENDING)
    decided_by_id = models.BigIntegerField(_("回答者（市の職員ID）"), null=True, blank=True)
    decided_by_name = models.CharField(_("回答者"), max_length=150, blank=True)
    decided_at = models.DateTimeField(_("回答日時"), null=True, blank=True)
    comment = models.TextField(_("コメント"), blank=True)

    class Meta:
        verbose_name = _("メンテナンスの承認")
        verbose_name_plural = _("メンテナンスの承認")
        ordering = ["proposal", "municipality"]
        constraints = [
            models.UniqueConstraint(
                fields=["proposal", "municipality"], name="maintenance_approval_once_per_city"
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(decided_at__isnull=False),
                name="maintenance_approval_decided_when",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.proposal_id}:{self.municipality_id}:{self.status}"
