"""The vendor's maintenance notices: in the public schema, shown as a banner on every city's pages and the vendor's.

A notice is shown from `starts_at` until `ends_at` (open-ended when empty); it names the maintenance window
(`window_start`–`window_end`), so the banner says "planned" before it and "in progress" during it. No cities named
means every city.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from base.notices import BilingualNotice, ends_after_start, window_open


class MaintenanceNotice(BilingualNotice):
    """Titles, bodies, the display window, sanitising and the language fallback come from base.notices."""

    window_start = models.DateTimeField(_("メンテナンス開始"), null=True, blank=True)
    window_end = models.DateTimeField(_("メンテナンス終了"), null=True, blank=True)
    municipalities = models.ManyToManyField(
        "tenants.Municipality",
        blank=True,
        related_name="maintenance_notices",
        verbose_name=_("対象の市区町村"),
        help_text=_("空欄はすべての市区町村"),
    )

    class Meta:
        verbose_name = _("メンテナンスのお知らせ")
        verbose_name_plural = _("メンテナンスのお知らせ")
        ordering = ["starts_at", "pk"]
        constraints = [
            ends_after_start("maintenance_notice_ends_after_start"),
            models.CheckConstraint(
                condition=Q(window_start__isnull=True)
                | Q(window_end__isnull=True)
                | Q(window_end__gt=F("window_start")),
                name="maintenance_window_end_after_start",
            ),
        ]

    def in_progress(self, now: datetime) -> bool:
        """True while `now` is inside the maintenance window (an open end counts as still running)."""
        return window_open(self.window_start, self.window_end, now)
