"""The vendor's maintenance notices: in the public schema, shown as a banner on every city's pages and the vendor's.

A notice is shown from `starts_at` until `ends_at` (open-ended when empty); it names the maintenance window
(`window_start`–`window_end`), so the banner says "planned" before it and "in progress" during it. No cities named
means every city.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from base.sanitize import sanitize_rich_text


class MaintenanceNotice(models.Model):
    title_ja = models.CharField(_("見出し（日本語）"), max_length=200)
    title_en = models.CharField(_("見出し（英語）"), max_length=200, blank=True)
    body_ja = models.TextField(_("本文（日本語）"), blank=True)
    body_en = models.TextField(_("本文（英語）"), blank=True)
    starts_at = models.DateTimeField(_("掲載開始"))
    ends_at = models.DateTimeField(_("掲載終了"), null=True, blank=True, help_text=_("空欄は終了日なし"))
    window_start = models.DateTimeField(_("メンテナンス開始"), null=True, blank=True)
    window_end = models.DateTimeField(_("メンテナンス終了"), null=True, blank=True)
    municipalities = models.ManyToManyField(
        "tenants.Municipality",
        blank=True,
        related_name="maintenance_notices",
        verbose_name=_("対象の市区町村"),
        help_text=_("空欄はすべての市区町村"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("メンテナンスのお知らせ")
        verbose_name_plural = _("メンテナンスのお知らせ")
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="maintenance_notice_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(window_start__isnull=True)
                | Q(window_end__isnull=True)
                | Q(window_end__gt=F("window_start")),
                name="maintenance_window_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.title_ja

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.body_ja = sanitize_rich_text(self.body_ja)
        self.body_en = sanitize_rich_text(self.body_en)
        super().save(*args, **kwargs)

    def in_progress(self, now: datetime) -> bool:
        """True while `now` is inside the maintenance window (an open end counts as still running)."""
        if self.window_start is None or now < self.window_start:
            return False
        return self.window_end is None or now < self.window_end

    def title(self, language: str) -> str:
        return self.title_en if language == "en" and self.title_en else self.title_ja

    def body(self, language: str) -> str:
        text = self.body_en if language == "en" and (self.body_en or self.title_en) else self.body_ja
        return sanitize_rich_text(text)
