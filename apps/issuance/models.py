"""The card list: each card J-LIS delivered to the city, its state, and the dated events of its life.

States and the transitions between them are in `apps/issuance/states.py`; only `services.card_transition` (and the
bulk and import services built on it) change `Card.state`, each time with a `CardEvent`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class CardState(models.TextChoices):
    DELIVERED = "delivered", _("納品済")
    SET_UP = "set_up", _("交付前設定済")
    NOTICE_MAILED = "notice_mailed", _("通知書発送済")
    RETURNED_MAIL = "returned_mail", _("返戻")
    BOOKED = "booked", _("予約済")
    ISSUED = "issued", _("交付済")
    RETENTION_EXPIRED = "retention_expired", _("保管期限切れ")
    DISPOSED = "disposed", _("廃棄済")
    CANCELLED = "cancelled", _("取消")
    MAILED = "mailed", _("本人へ郵送済")


class EventKind(models.TextChoices):
    IMPORTED = "imported", _("カード一覧から登録")
    CHANGED = "changed", _("カード一覧の内容変更")
    SET_UP = "set_up", _("交付前設定")
    NOTICE_MAILED = "notice_mailed", _("交付通知書発送")
    RETURNED_MAIL = "returned_mail", _("返戻")
    RESENT = "resent", _("再送")
    REMINDER = "reminder", _("再通知")
    BOOKED = "booked", _("予約")
    BOOKING_CANCELLED = "booking_cancelled", _("予約取消")
    NO_SHOW = "no_show", _("不来庁")
    ISSUED = "issued", _("交付")
    NOT_ISSUED = "not_issued", _("交付せず")
    RETENTION_EXPIRED = "retention_expired", _("保管期限切れ")
    DISPOSED = "disposed", _("廃棄")
    CANCELLED = "cancelled", _("取消")
    MAILED = "mailed", _("本人へ郵送")
    PRINTED = "printed", _("通知書印刷")


class DisposalMethod(models.TextChoices):
    RETURNED_TO_JLIS = "returned_to_jlis", _("J-LISへ返送")
    DESTROYED = "destroyed", _("廃棄（裁断等）")


class CancelReason(models.TextChoices):
    MOVED_OUT = "moved_out", _("転出")
    DIED = "died", _("死亡")
    OTHER = "other", _("その他")


class IssuanceSettings(models.Model):
    """The city's card policy: one row per city."""

    reminder_after_weeks = models.PositiveIntegerField(
        _("再通知までの週数"),
        default=8,
        validators=[MinValueValidator(1), MaxValueValidator(104)],
        help_text=_("通知書の発送からこの週数が過ぎても受け取りがないカードを再通知の作業一覧に出します。"),
    )
    retention_months = models.PositiveIntegerField(
        _("保管期間（月）"),
        default=6,
        validators=[MinValueValidator(1), MaxValueValidator(24)],
        help_text=_("納品日からこの月数が過ぎたカードを廃棄の作業一覧に出します。"),
    )
    upload_keep_days = models.PositiveIntegerField(
        _("取込ファイルの保管日数"),
        default=7,
        validators=[MinValueValidator(0), MaxValueValidator(90)],
        help_text=_(
            "取込が済んだファイルはすぐに削除します。確定されないまま残ったファイルは、アップロードからこの日数で"
            "削除し、その取込は取りやめになります。"
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("交付の設定")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="issuance_settings_singleton")]
        permissions = [
            ("manage_cards", _("カード一覧の取込・状態の変更・通知書の印刷・作業一覧を扱える")),
            ("issue_cards", _("窓口でカードを検索し交付の記録をつけられる")),
            ("view_reports", _("交付の集計を見られる")),
        ]

    def __str__(self) -> str:
        return f"{self.reminder_after_weeks}w/{self.retention_months}m"


class IdentityDocument(models.Model):
    """A kind of document accepted for the identity check (本人確認書類): editable, national rules change."""

    class Kind(models.TextChoices):
        A = "a", _("A書類（1点で確認）")
        B = "b", _("B書類（2点で確認）")

    kind = models.CharField(_("区分"), max_length=1, choices=Kind.choices)
    name_ja = models.CharField(_("名称（日本語）"), max_length=100)
    name_en = models.CharField(_("名称（英語）"), max_length=100)
    active = models.BooleanField(_("使用中"), default=True)
    order = models.PositiveIntegerField(_("表示順"), default=0)

    class Meta:
        ordering = ["kind", "order", "pk"]
        verbose_name = _("本人確認書類")
        constraints = [models.UniqueConstraint(fields=["kind", "name_ja"], name="issuance_document_unique")]

    def __str__(self) -> str:
        return self.name_ja


class ProxyReason(models.Model):
    """A reason for which a proxy (代理人) may collect a card: editable per city."""

    name_ja = models.CharField(_("名称（日本語）"), max_length=100, unique=True)
    name_en = models.CharField(_("名称（英語）"), max_length=100)
    active = models.BooleanField(_("使用中"), default=True)
    order = models.PositiveIntegerField(_("表示順"), default=0)

    class Meta:
        ordering = ["order", "pk"]
        verbose_name = _("代理受取の理由")

    def __str__(self) -> str:
        return self.name_ja


class ColumnMapping(models.Model):
    """A saved mapping from the city's CSV headers to the card list's fields (see docs/card-import.md)."""

    name = models.CharField(_("名前"), max_length=100, unique=True)
    columns = models.JSONField(_("列の対応"), default=dict)  # field name -> header in the file
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("列の対応")

    def __str__(self) -> str:
        return self.name


class ImportBatch(models.Model):
    """One uploaded card-list file: validated as a whole, applied only when confirmed, with its counts."""

    class Status(models.TextChoices):
        VALIDATING = "validating", _("確認中")
        INVALID = "invalid", _("エラーあり")
        READY = "ready", _("取込待ち")
        APPLYING = "applying", _("取込中")
        DONE = "done", _("取込済")
        DISCARDED = "discarded", _("取りやめ")
        FAILED = "failed", _("失敗")

    file_name = models.CharField(_("ファイル名"), max_length=255)
    stored_name = models.CharField(max_length=255, blank=True)  # inside the city's private storage
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.PositiveBigIntegerField(default=0)
    encoding = models.CharField(_("文字コード"), max_length=20, blank=True)
    mapping = models.JSONField(default=dict)
    status = models.CharField(_("状態"), max_length=12, choices=Status.choices, default=Status.VALIDATING)
    rows_total = models.PositiveIntegerField(_("行数"), default=0)
    rows_done = models.PositiveIntegerField(default=0)  # progress of validation or applying
    rows_new = models.PositiveIntegerField(_("新規"), default=0)
    rows_changed = models.PositiveIntegerField(_("変更"), default=0)
    rows_unchanged = models.PositiveIntegerField(_("変更なし"), default=0)
    rows_error = models.PositiveIntegerField(_("エラー"), default=0)
    errors = models.JSONField(default=list)  # [{"line": n, "field": f, "message": m}], capped
    changes = models.JSONField(default=list)  # preview of changed rows, capped
    message = models.CharField(max_length=300, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    file_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("取込")

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"


class Card(models.Model):
    """One card J-LIS delivered. Names are stored exactly as given; `kana_key` is the folded key for matching."""

    notice_number = models.CharField(_("交付通知書の番号"), max_length=20, unique=True)
    name = models.CharField(_("氏名"), max_length=100)
    kana = models.CharField(_("ふりがな"), max_length=100, blank=True)
    kana_key = models.CharField(max_length=100, blank=True)
    birth_date = models.DateField(_("生年月日"))
    postal_code = models.CharField(_("郵便番号"), max_length=8, blank=True)
    address = models.CharField(_("住所"), max_length=300, blank=True)
    delivery_batch = models.CharField(_("納品回"), max_length=40, blank=True)
    delivery_date = models.DateField(_("納品日"))
    application_kind = models.CharField(_("申請の種類"), max_length=40, blank=True)
    express = models.BooleanField(_("特急発行"), default=False)
    state = models.CharField(_("状態"), max_length=20, choices=CardState.choices, default=CardState.DELIVERED)
    state_changed_at = models.DateTimeField(_("状態の変更日時"))
    notice_mailed_at = models.DateTimeField(
        null=True, blank=True
    )  # the last mailing (notice, re-send, reminder)
    disposal_method = models.CharField(
        _("廃棄の方法"), max_length=20, choices=DisposalMethod.choices, blank=True
    )
    cancel_reason = models.CharField(_("取消の理由"), max_length=20, choices=CancelReason.choices, blank=True)
    reservation = models.ForeignKey(
        "booking.Reservation", on_delete=models.SET_NULL, null=True, blank=True, related_name="cards"
    )
    import_batch = models.ForeignKey(
        ImportBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["delivery_date", "notice_number"]
        verbose_name = _("カード")
        indexes = [
            models.Index(fields=["state", "delivery_date"], name="issuance_card_state"),
            models.Index(fields=["kana_key", "birth_date"], name="issuance_card_kana"),
            models.Index(fields=["delivery_batch"], name="issuance_card_batch"),
        ]

    def __str__(self) -> str:
        return self.notice_number


class CardEvent(models.Model):
    """A dated entry of a card's history: who, when, why; transitions carry the states before and after."""

    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("出来事"), max_length=20, choices=EventKind.choices)
    from_state = models.CharField(max_length=20, choices=CardState.choices, blank=True)
    to_state = models.CharField(max_length=20, choices=CardState.choices, blank=True)
    at = models.DateTimeField(_("日時"), db_index=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    by_label = models.CharField(max_length=150, blank=True)  # "system", "resident", or the user's name then
    reason = models.CharField(_("理由"), max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("カードの履歴")
        indexes = [
            models.Index(fields=["kind", "at"], name="issuance_event_kind_at"),
            # A card's state at a past moment (reports' "on hand at month end"): its last event before then.
            models.Index(fields=["card", "at"], name="issuance_event_card_at"),
        ]

    def __str__(self) -> str:
        return f"{self.card_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class NoticePrint(models.Model):
    """The print log: each notice-letter PDF made, for which cards, by whom."""

    class Variant(models.TextChoices):
        LETTER = "letter", _("A4（窓あき封筒）")
        POSTCARD = "postcard", _("はがき")

    class Kind(models.TextChoices):
        NOTICE = "notice", _("交付通知書")
        REMINDER = "reminder", _("再通知")

    variant = models.CharField(_("用紙"), max_length=10, choices=Variant.choices)
    kind = models.CharField(_("種類"), max_length=10, choices=Kind.choices, default=Kind.NOTICE)
    delivery_batch = models.CharField(_("納品回"), max_length=40, blank=True)
    card_count = models.PositiveIntegerField(_("枚数"))
    cards = models.ManyToManyField(Card, related_name="prints")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    at = models.DateTimeField(_("日時"), auto_now_add=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("通知書の印刷")

    def __str__(self) -> str:
        return f"{self.kind}/{self.variant} x{self.card_count}"


class CounterCheck(models.Model):
    """The issue checklist of one card at the counter. Document kinds only, never document numbers."""

    class Outcome(models.TextChoices):
        ISSUED = "issued", _("交付した")
        NOT_ISSUED = "not_issued", _("交付しなかった")

    class IdentityKind(models.TextChoices):
        ONE_A = "one_a", _("A書類1点")
        TWO_B = "two_b", _("B書類2点")

    class OldCard(models.TextChoices):
        NOTIFICATION_CARD = "notification_card", _("通知カード")
        JUKI_CARD = "juki_card", _("住基カード")
        OLD_MY_NUMBER_CARD = "old_my_number_card", _("旧マイナンバーカード")

    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="checks")
    reservation = models.ForeignKey(
        "booking.Reservation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    identity_kind = models.CharField(_("本人確認"), max_length=10, choices=IdentityKind.choices)
    documents = models.JSONField(
        _("確認した書類"), default=list
    )  # names of IdentityDocument rows at the time
    proxy = models.BooleanField(_("代理人による受取"), default=False)
    proxy_reason = models.CharField(_("代理の理由"), max_length=100, blank=True)
    proxy_documents = models.JSONField(_("代理人の確認書類"), default=list)
    guardian = models.BooleanField(_("法定代理人（15歳未満）"), default=False)
    old_cards = models.JSONField(_("回収したカード"), default=list)
    receipt_signed = models.BooleanField(_("受領書に署名"), default=False)
    outcome = models.CharField(_("結果"), max_length=12, choices=Outcome.choices)
    not_issued_reason = models.CharField(_("交付しなかった理由"), max_length=300, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("日時"))

    class Meta:
        ordering = ["-at"]
        verbose_name = _("窓口での確認")

    def __str__(self) -> str:
        return f"{self.card_id} {self.outcome}"
