"""What a city publishes to residents: announcements on its booking pages, and its own email texts.

Both live in the city's schema (a city's content is never visible to another). Rich text is sanitised on save and
again when rendered (base.notices): a row written some other way (a migration, the shell) is still safe.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from base.notices import BilingualNotice, ends_after_start


class Announcement(BilingualNotice):
    """A notice on the city's top page and booking pages, shown from `starts_at` until `ends_at` (open if empty).

    Fields, sanitising, the display window and the language fallback come from base.notices.BilingualNotice.
    """

    # The only field whose help text differs from the shared one: the supervisor's form lists the allowed tags.
    body_ja = models.TextField(
        _("本文（日本語）"), blank=True, help_text=_("使えるタグ: p, br, strong, em, ul, ol, li, a, h2, h3")
    )

    class Meta:
        verbose_name = _("お知らせ")
        verbose_name_plural = _("お知らせ")
        ordering = ["-starts_at", "-pk"]
        constraints = [ends_after_start("announcement_ends_after_start")]
        indexes = [models.Index(fields=["starts_at"])]


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
