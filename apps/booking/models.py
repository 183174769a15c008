"""Booking: a general appointment engine for a city's counters.

Capacity is a pool of seats per time frame per counter group (窓口), shared by every purpose served there
(DOMAIN.md). Slots are rows; a slot's `taken` counts booked and held seats and the database refuses
`taken > seats` (CHECK), while the row lock on the slot serialises writers: no double booking under load.
Booking knows nothing about cards: issuance plugs its pickup check in through apps.booking.hooks.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from base.colors import contrast_ratio

hex_color = RegexValidator(r"^#[0-9A-Fa-f]{6}$", _("色は #RRGGBB の形式で入力してください。"))
MIN_CONTRAST = 4.5  # WCAG 2.1 AA for normal text: white text on the city's colour


class SiteAppearance(models.Model):
    """One row per city schema: the colour and contact shown on every page of the city."""

    primary_color = models.CharField(_("基調色"), max_length=7, default="#1D4E89", validators=[hex_color])
    phone = models.CharField(_("問い合わせ電話番号"), max_length=20, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("画面の設定")
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="site_appearance_singleton")]

    def __str__(self) -> str:
        return f"{self.primary_color} {self.phone}".strip()

    def clean(self) -> None:
        if (
            re.fullmatch(r"#[0-9A-Fa-f]{6}", self.primary_color)
            and contrast_ratio(self.primary_color, "#FFFFFF") < MIN_CONTRAST
        ):
            raise ValidationError(
                {"primary_color": _("白い文字との明暗比が4.5:1に足りません。もっと濃い色を選んでください。")}
            )


class BookingSettings(models.Model):
    """One row per city: every number of DOMAIN.md's booking rules is the city's choice."""

    opens_days_ahead = models.PositiveIntegerField(
        _("何日先まで予約できるか"), default=60, validators=[MinValueValidator(1), MaxValueValidator(180)]
    )
    closes_hours_before = models.PositiveIntegerField(
        _("予約の締切（何時間前）"), default=24, validators=[MaxValueValidator(24 * 14)]
    )
    hold_minutes = models.PositiveIntegerField(
        _("入力中に枠を確保する時間（分）"),
        default=10,
        validators=[MinValueValidator(3), MaxValueValidator(30)],
    )
    change_deadline_hours = models.PositiveIntegerField(
        _("変更・取消の締切（何時間前）"), default=24, validators=[MaxValueValidator(24 * 14)]
    )
    max_persons = models.PositiveIntegerField(
        _("1件で予約できる人数"), default=4, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    max_future_bookings = models.PositiveIntegerField(
        _("同じ人・同じ用件で持てる予約の数"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    no_show_grace_minutes = models.PositiveIntegerField(
        _("不来庁とするまでの時間（分）"), default=15, validators=[MaxValueValidator(120)]
    )
    closed_year_end = models.BooleanField(_("年末年始（12月29日〜1月3日）を休みにする"), default=True)
    closed_on_holidays = models.BooleanField(_("祝日・振替休日を休みにする"), default=True)
    confirm_email_first = models.BooleanField(_("先にメールアドレスを確認してもらう"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("予約の設定")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="booking_settings_singleton")]
        permissions = [
            ("configure_booking", _("窓口・用件・受付時間・休み・予約の設定を変更できる")),
            ("work_counter", _("予約の確認・受付・電話予約・当日受付を行える")),
        ]

    def __str__(self) -> str:
        return f"{self.opens_days_ahead}d/{self.closes_hours_before}h"


class CounterGroup(models.Model):
    """A counter (窓口) with its own pool of seats per frame, shared by every purpose it serves."""

    name = models.CharField(_("名称"), max_length=100)
    location = models.CharField(_("場所"), max_length=200, blank=True, help_text=_("例: 本庁舎1階 市民課"))
    frame_minutes = models.PositiveIntegerField(
        _("1枠の長さ（分）"), default=30, validators=[MinValueValidator(5), MaxValueValidator(240)]
    )
    seats = models.PositiveIntegerField(
        _("1枠の席数"), default=2, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    staff_seats = models.PositiveIntegerField(
        _("職員・電話予約用に残す席数"), default=0, validators=[MaxValueValidator(50)]
    )
    active = models.BooleanField(_("使用中"), default=True)

    class Meta:
        verbose_name = _("窓口")
        verbose_name_plural = _("窓口")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(staff_seats__lte=F("seats")), name="staff_seats_lte_seats")
        ]

    def __str__(self) -> str:
        return self.name


class Purpose(models.Model):
    """A reason for a visit (交付/受取, 申請サポート...), served at one counter group."""

    code = models.SlugField(_("コード"), max_length=40, unique=True)
    name_ja = models.CharField(_("名称（日本語）"), max_length=100)
    name_en = models.CharField(_("名称（英語）"), max_length=100)
    counter_group = models.ForeignKey(
        CounterGroup, on_delete=models.PROTECT, related_name="purposes", verbose_name=_("窓口")
    )
    seats_per_person = models.PositiveIntegerField(
        _("1人あたりの席数"), default=1, validators=[MinValueValidator(1), MaxValueValidator(4)]
    )
    requires_notice_number = models.BooleanField(_("交付通知書の番号が必要"), default=False)
    bring_ja = models.TextField(_("持ち物（日本語）"), blank=True)
    bring_en = models.TextField(_("持ち物（英語）"), blank=True)
    active = models.BooleanField(_("受付中"), default=True)
    order = models.PositiveIntegerField(_("表示順"), default=0)

    class Meta:
        verbose_name = _("用件")
        verbose_name_plural = _("用件")
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return self.name_ja

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_ja

    def bring(self, language: str) -> str:
        return self.bring_en if language == "en" and self.bring_en else self.bring_ja


class OpeningHours(models.Model):
    """A range of a weekday when a counter group is open; several per day (lunch break, evening)."""

    counter_group = models.ForeignKey(CounterGroup, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(_("曜日"), validators=[MaxValueValidator(6)])  # 0 = Monday
    start = models.TimeField(_("開始"))
    end = models.TimeField(_("終了"))

    class Meta:
        verbose_name = _("受付時間")
        verbose_name_plural = _("受付時間")
        ordering = ["counter_group", "weekday", "start"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="opening_hours_end_after_start")
        ]

    def __str__(self) -> str:
        return f"{self.weekday} {self.start:%H:%M}-{self.end:%H:%M}"


class CalendarDay(models.Model):
    """A date that differs from the weekly hours: a city-specific closure, or a special opening (a Sunday)."""

    class Kind(models.TextChoices):
        CLOSED = "closed", _("休み")
        OPEN = "open", _("特別開庁")

    counter_group = models.ForeignKey(
        CounterGroup,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="calendar_days",
        help_text=_("空欄はすべての窓口"),
    )
    date = models.DateField(_("日付"))
    kind = models.CharField(_("種類"), max_length=10, choices=Kind.choices)
    start = models.TimeField(_("開始"), null=True, blank=True)
    end = models.TimeField(_("終了"), null=True, blank=True)
    reason = models.CharField(_("理由"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("休み・特別開庁")
        verbose_name_plural = _("休み・特別開庁")
        ordering = ["date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="closed") | Q(start__isnull=False, end__isnull=False, end__gt=F("start")),
                name="calendar_day_open_has_hours",
            )
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.kind}"


class Slot(models.Model):
    """One frame of one counter group. `taken` counts booked and held seats; the database keeps it ≤ seats."""

    counter_group = models.ForeignKey(CounterGroup, on_delete=models.CASCADE, related_name="slots")
    start = models.DateTimeField()
    end = models.DateTimeField()
    seats = models.PositiveIntegerField()
    staff_seats = models.PositiveIntegerField(default=0)
    taken = models.PositiveIntegerField(default=0)
    blocked = models.BooleanField(default=False)
    # False once the rules no longer produce this frame: kept (never dropped) while bookings hold it.
    in_rules = models.BooleanField(default=True)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.UniqueConstraint(fields=["counter_group", "start"], name="slot_unique_start"),
            models.CheckConstraint(condition=Q(taken__lte=F("seats")), name="slot_taken_lte_seats"),
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="slot_end_after_start"),
        ]
        indexes = [models.Index(fields=["start"])]

    def __str__(self) -> str:
        return f"{self.counter_group_id} {self.start:%Y-%m-%d %H:%M} {self.taken}/{self.seats}"

    @property
    def free(self) -> int:
        return max(self.seats - self.taken, 0)

    @property
    def free_for_residents(self) -> int:
        return max(self.seats - self.staff_seats - self.taken, 0)


class Hold(models.Model):
    """Seats kept for a resident while they fill in the form; released when it expires."""

    token = models.UUIDField(unique=True)
    slot = models.ForeignKey(Slot, on_delete=models.CASCADE, related_name="holds")
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT)
    persons = models.PositiveIntegerField()
    seats = models.PositiveIntegerField()
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Who holds it, for the caps on active holds (services.hold_create): the resident's session and address
    # buckets (IPv4 address or IPv6 /64, and the IPv6 /56). Empty for holds made by staff or code.
    session_key = models.CharField(max_length=40, blank=True, default="", db_index=True)
    client_net = models.CharField(max_length=64, blank=True, default="", db_index=True)
    client_site = models.CharField(max_length=64, blank=True, default="", db_index=True)

    def __str__(self) -> str:
        return f"hold {self.slot_id} x{self.seats} until {self.expires_at:%H:%M}"


class Reservation(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked", _("予約済み")
        ARRIVED = "arrived", _("来庁")
        DONE = "done", _("完了")
        NO_SHOW = "no_show", _("不来庁")
        CANCELLED = "cancelled", _("取消")

    class Channel(models.TextChoices):
        WEB = "web", _("インターネット")
        PHONE = "phone", _("電話")
        WALK_IN = "walk_in", _("当日受付")

    code = models.CharField(_("予約番号"), max_length=12, unique=True)
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="reservations")
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="reservations")
    status = models.CharField(_("状態"), max_length=10, choices=Status.choices, default=Status.BOOKED)
    channel = models.CharField(_("受付方法"), max_length=10, choices=Channel.choices, default=Channel.WEB)
    seats = models.PositiveIntegerField()
    email = models.EmailField(_("メールアドレス"), blank=True)
    phone = models.CharField(_("電話番号"), max_length=20, blank=True)
    # A resubmitted form carries the same key: one booking, however often it arrives.
    submission_key = models.UUIDField(unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    language = models.CharField(max_length=5, default="ja")

    class Meta:
        verbose_name = _("予約")
        verbose_name_plural = _("予約")
        indexes = [models.Index(fields=["status", "slot"])]

    def __str__(self) -> str:
        return self.code


class Person(models.Model):
    """One visitor of a reservation (a family books once, each person with their own details)."""

    reservation = models.ForeignKey(Reservation, on_delete=models.CASCADE, related_name="persons")
    name = models.CharField(_("氏名"), max_length=100)
    kana = models.CharField(_("ふりがな"), max_length=100, blank=True)
    birth_date = models.DateField(_("生年月日"))
    notice_number = models.CharField(_("交付通知書の番号"), max_length=20, blank=True)
    # The folded matching key of DOMAIN.md, for finding a person by kana (NFKC, katakana, no spaces).
    kana_key = models.CharField(max_length=100, blank=True, db_index=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["reservation", "order"]

    def __str__(self) -> str:
        return f"{self.reservation_id}#{self.order}"


class ReminderSent(models.Model):
    """At most one reminder of each kind per reservation: the unique row is the guard, written before sending."""

    reservation = models.ForeignKey(Reservation, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=20)
    claimed_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["reservation", "kind"], name="reminder_once_per_kind")]

    def __str__(self) -> str:
        return f"{self.reservation_id}:{self.kind}"


# Content a city publishes (announcements, email texts) and the booking mails' outbox live in their own modules;
# Django finds the models here.
from apps.booking.models_content import Announcement, EmailText  # noqa: E402,F401
from apps.booking.models_outbox import BookingMail  # noqa: E402,F401
