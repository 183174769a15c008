"""What a city publishes to residents: announcements on its booking pages, and its own email texts.

Both live in the city's schema (a city's content is never visible to another). Rich text is sanitised on save and
again when rendered (base.sanitize): a row written some other way (a migration, the shell) is still safe.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from base.sanitize import sanitize_rich_text


class Announcement(models.Model):
    """A notice on the city's top page and booking pages, shown from `starts_at` until `ends_at` (open if empty)."""

    title_ja = models.CharField(_("見出し（日本語）"), max_length=200)
    title_en = models.CharField(_("見出し（英語）"), max_length=200, blank=True)
    body_ja = models.TextField(
        _("本文（日本語）"), blank=True, help_text=_("使えるタグ: p, br, strong, em, ul, ol, li, a, h2, h3")
    )
    body_en = models.TextField(_("本文（英語）"), blank=True)
    starts_at = models.DateTimeField(_("掲載開始"))
    ends_at = models.DateTimeField(_("掲載終了"), null=True, blank=True, help_text=_("空欄は終了日なし"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("お知らせ")
        verbose_name_plural = _("お知らせ")
        ordering = ["-starts_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="announcement_ends_after_start",
            )
        ]
        indexes = [models.Index(fields=["starts_at"])]

    def __str__(self) -> str:
        return self.title_ja

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.body_ja = sanitize_rich_text(self.body_ja)
        self.body_en = sanitize_rich_text(self.body_en)
        super().save(*args, **kwargs)

    def title(self, language: str) -> str:
        return self.title_en if language == "en" and self.title_en else self.title_ja

    def body(self, language: str) -> str:
        """Safe HTML in `language` (Japanese when there is no English text), cleaned again on the way out."""
        text = self.body_en if language == "en" and (self.body_en or self.title_en) else self.body_ja
        return sanitize_rich_text(text)


class EmailText(models.Model):
    """A city's own subject and body for one kind of resident email in one language (else the built-in text)."""

    class Kind(models.TextChoices):
        BOOKED = "booked", _("予約の受付")
        CHANGED = "changed", _("予約の変更")
        CANCELLED = "cancelled", _("予約の取消")
        REMINDER = "reminder", _("前日のお知らせ")

    class Language(models.TextChoices):
        JA = "ja", _("日本語")
        EN = "en", _("英語")

    kind = models.CharField(_("種類"), max_length=20, choices=Kind.choices)
    language = models.CharField(_("言語"), max_length=5, choices=Language.choices)
    subject = models.CharField(_("件名"), max_length=200)
    body = models.TextField(_("本文"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("メール文面")
        verbose_name_plural = _("メール文面")
        ordering = ["kind", "language"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "language"], name="email_text_unique_kind_language")
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.language}"
