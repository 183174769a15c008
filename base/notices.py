"""A bilingual, sanitised, scheduled notice: what a city's announcement and the vendor's maintenance notice share.

Both are a Japanese and an English title and body, the body rich text kept to base.sanitize's allow-list, shown
from `starts_at` until `ends_at` (open if empty). The abstract model holds the fields and that behaviour; each
concrete model keeps its own table, verbose names, ordering and constraints (a field overridden in a subclass
only where its verbose name or help text differs, so no migration follows from sharing).

Rich text is sanitised on save and again whenever it is read for a page: a row written behind the model's back
(an `update()`, a migration, the shell) is still safe, and nh3's output is stable, so cleaning twice changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from base.sanitize import sanitize_rich_text

Language = Literal["ja", "en"]

_N = TypeVar("_N", bound="BilingualNotice")


def notice_language(language: str | None = None) -> Language:
    """The notice language for `language`: "en" for any English variant, else "ja"; None means the active one."""
    chosen = language if language is not None else (translation.get_language() or "ja")
    return "en" if chosen.lower().startswith("en") else "ja"


def pick_text(language: str | None, japanese: str, english: str) -> str:
    """The English text on an English page when there is one; Japanese otherwise (Japanese is always written).

    Title and body fall back each on its own: a notice with an English title and no English body shows the
    Japanese body rather than none.
    """
    return english if notice_language(language) == "en" and english else japanese


def safe_rich_text(html: str) -> SafeString:
    """`html` cleaned by nh3 and marked safe for a template: mark_safe only ever on the sanitiser's output."""
    return mark_safe(sanitize_rich_text(html))  # noqa: S308


def window_open(start: datetime | None, end: datetime | None, now: datetime) -> bool:
    """True when `now` is inside [start, end): begun (no start: never) and not yet over (no end: open)."""
    return start is not None and start <= now and (end is None or now < end)


def shown_at_q(now: datetime) -> Q:
    """The rows shown at `now`, as a filter (for a query that adds its own conditions in the same WHERE)."""
    return Q(starts_at__lte=now) & (Q(ends_at__isnull=True) | Q(ends_at__gt=now))


def ends_after_start(name: str) -> models.CheckConstraint:
    """The database's own guard on the display window; each table names it (the names are in its migrations)."""
    return models.CheckConstraint(
        condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")), name=name
    )


class _Texts(Protocol):
    title_ja: str
    title_en: str
    body_ja: str
    body_en: str


class BilingualText:
    """The text in the visitor's language, for a notice row or a plain (cacheable) copy of one."""

    def title_for(self: _Texts, language: str | None = None) -> str:
        return pick_text(language, self.title_ja, self.title_en)

    def body_for(self: _Texts, language: str | None = None) -> SafeString:
        """Safe HTML in `language` (Japanese when there is no English body), cleaned again on the way out."""
        return safe_rich_text(pick_text(language, self.body_ja, self.body_en))


class BilingualNoticeQuerySet(models.QuerySet[_N]):
    def shown_at(self, now: datetime) -> BilingualNoticeQuerySet[_N]:
        """The notices shown at `now`: started, and not yet ended (no end means until withdrawn)."""
        return self.filter(shown_at_q(now))


class BilingualNoticeManager(models.Manager[_N]):
    """The manager each concrete notice declares with its own model type (`objects: ClassVar[...]`)."""

    def get_queryset(self) -> BilingualNoticeQuerySet[_N]:
        return BilingualNoticeQuerySet(self.model, using=self._db)

    def shown_at(self, now: datetime) -> BilingualNoticeQuerySet[_N]:
        return self.get_queryset().shown_at(now)


class BilingualNotice(BilingualText, models.Model):
    """Title and body in Japanese (required title) and English (optional), shown from `starts_at` to `ends_at`."""

    title_ja = models.CharField(_("見出し（日本語）"), max_length=200)
    title_en = models.CharField(_("見出し（英語）"), max_length=200, blank=True)
    body_ja = models.TextField(_("本文（日本語）"), blank=True)
    body_en = models.TextField(_("本文（英語）"), blank=True)
    starts_at = models.DateTimeField(_("掲載開始"))
    ends_at = models.DateTimeField(_("掲載終了"), null=True, blank=True, help_text=_("空欄は終了日なし"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BilingualNoticeManager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.title_ja

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.body_ja = sanitize_rich_text(self.body_ja)
        self.body_en = sanitize_rich_text(self.body_en)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        # The same rule as the CheckConstraint, said in Japanese on the end field instead of a constraint's name.
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("掲載終了は掲載開始より後にしてください。")})

    def is_shown_at(self, now: datetime) -> bool:
        """The instance's side of `objects.shown_at(now)`."""
        return window_open(self.starts_at, self.ends_at, now)
