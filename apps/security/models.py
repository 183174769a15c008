"""Accounts and each city's security configuration.

The same tables exist in every schema: the vendor's staff and settings in public, each city's in its own.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.security.ranges import MIN_PREFIX_LENGTH, parse_network, too_broad


class User(AbstractUser):
    email = models.EmailField(_("メールアドレス"), unique=True)
    display_name = models.CharField(_("表示名"), max_length=100, blank=True)
    # Raised by "log out everywhere": a session remembers the epoch it was made in and dies when it changes.
    session_epoch = models.PositiveIntegerField(default=0, editable=False)

    class Meta(AbstractUser.Meta):
        verbose_name = _("利用者")  # type: ignore[assignment]
        verbose_name_plural = _("利用者")  # type: ignore[assignment]
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return self.display_name or self.username


class Role(models.TextChoices):
    """The groups every city has; what each may do is in apps/security/roles.py (docs/security.md)."""

    SUPERVISOR = "supervisor", _("管理者")
    STAFF = "staff", _("窓口職員")
    AUDITOR = "auditor", _("監査担当")


def normalise_network(value: str) -> str:
    """The canonical form of a range a city may allow; refuses unreadable and too broad ranges (apps.security.ranges:
    IPv4 broader than /8, IPv6 broader than /32, so never "everyone" such as 0.0.0.0/0)."""
    try:
        network = parse_network(value)
    except ValueError as exc:
        raise ValidationError(
            _("「%(value)s」はIPアドレスの範囲として読めません（例: 192.0.2.0/24、2001:db8::/32）。"),
            code="invalid_network",
            params={"value": value},
        ) from exc
    if too_broad(network):
        raise ValidationError(
            _(
                "「%(value)s」は範囲が広すぎます。インターネット全体や複数の事業者にまたがる範囲は許可できません"
                "（IPv4 は /%(v4)d 以上、IPv6 は /%(v6)d 以上の長さで、庁舎や事業者の範囲を指定してください）。"
            ),
            code="network_too_broad",
            params={"value": value, "v4": MIN_PREFIX_LENGTH[4], "v6": MIN_PREFIX_LENGTH[6]},
        )
    return str(network)


class AllowedNetwork(models.Model):
    """An address range from which this city's staff may reach staff pages. None: no staff access at all."""

    cidr = models.CharField(_("IPアドレスの範囲"), max_length=50, unique=True)
    label = models.CharField(_("名称"), max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("接続を許可するネットワーク")
        verbose_name_plural = _("接続を許可するネットワーク")
        ordering = ["cidr"]

    def __str__(self) -> str:
        return f"{self.cidr} ({self.label})"

    def clean(self) -> None:
        self.cidr = normalise_network(self.cidr)


class SecurityPolicy(models.Model):
    """One row per schema: the city's choices within what the contract allows."""

    mfa_required_for_staff = models.BooleanField(
        _("窓口職員にも二要素認証を必須にする"),
        default=True,
        help_text=_("管理者と監査担当には常に必須です。"),
    )
    idle_timeout_minutes = models.PositiveIntegerField(
        _("無操作でログアウトするまでの時間（分）"),
        default=30,
        validators=[MinValueValidator(5), MaxValueValidator(240)],
    )
    absolute_timeout_hours = models.PositiveIntegerField(
        _("ログインの有効時間（時間）"),
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(24)],
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("セキュリティ方針")
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="security_policy_singleton")]
        permissions = [
            ("manage_security", _("ネットワーク・方針・ロックを管理できる")),
            ("view_audit", _("監査ログを閲覧できる")),
            ("manage_staff", _("職員アカウントを管理できる")),
            ("use_counter", _("窓口業務を行える")),
        ]

    def __str__(self) -> str:
        return f"MFA staff={self.mfa_required_for_staff} idle={self.idle_timeout_minutes}m"


class AccountLock(models.Model):
    """A lockout after repeated login failures, per account name or per client address."""

    class Kind(models.TextChoices):
        ACCOUNT = "account", _("アカウント")
        ADDRESS = "address", _("接続元アドレス")

    kind = models.CharField(_("種類"), max_length=10, choices=Kind.choices)
    key = models.CharField(_("対象"), max_length=255)
    failures = models.PositiveIntegerField(_("失敗回数"))
    locked_at = models.DateTimeField(_("ロック日時"))
    locked_until = models.DateTimeField(_("ロック解除予定"))
    released_at = models.DateTimeField(_("解除日時"), null=True, blank=True)
    released_by = models.CharField(_("解除した人"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("ログインのロック")
        verbose_name_plural = _("ログインのロック")
        ordering = ["-locked_at"]
        indexes = [models.Index(fields=["kind", "key", "locked_until"])]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"


class Counter(models.Model):
    """One security counter's current window (apps/security/counters.py writes and reads it with plain SQL)."""

    key = models.CharField(max_length=200, primary_key=True)
    count = models.PositiveIntegerField()
    window_end = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["window_end"], name="security_counter_end_idx")]
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.key}={self.count}"


class ApiScope(models.TextChoices):
    """What a city's own system may do with an API key (docs/api.md); the API's permission class checks them."""

    SLOTS_READ = "slots:read", _("空き状況の参照")
    RESERVATIONS_READ = "reservations:read", _("予約の参照")
    RESERVATIONS_WRITE = "reservations:write", _("予約の登録・変更")
    CARDS_READ = "cards:read", _("カードの参照")
    CARDS_WRITE = "cards:write", _("カードの登録・更新")
    REPORTS_READ = "reports:read", _("集計の参照")


class ApiKey(models.Model):
    """A key a city's own system uses for the REST API: in the city's schema, so it fails at every other host.

    The token (`mdg_<prefix>_<secret>`) is shown once; only `secret_hash`, HMAC-SHA256(API_KEY_PEPPER, secret) in
    hex, is kept (apps/security/api_keys.py). Not a password hash: a key is checked on every request.
    """

    name = models.CharField(_("名称"), max_length=100)
    prefix = models.CharField(_("識別子"), max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(_("権限"), default=list)
    expires_at = models.DateTimeField(_("有効期限"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("失効日時"), null=True, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("作成者")
    )
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)
    rotated_at = models.DateTimeField(_("再発行日時"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("最終利用日時"), null=True, blank=True)
    last_used_address = models.CharField(_("最終利用の接続元"), max_length=45, blank=True)
    # When the mail "this key expires soon" went to the city's supervisors (once per expiry date).
    expiry_warned_at = models.DateTimeField(_("期限前の通知日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("APIキー")
        verbose_name_plural = _("APIキー")
        ordering = ["-created_at", "pk"]
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.prefix} {self.name}"


class ApiIdempotency(models.Model):
    """One `Idempotency-Key` of one API key (docs/api.md, "Idempotency"): the fingerprint of the first request and
    its answer (status, body, Location), replayed for the same key and body for 24 hours. The row is written in the
    same transaction as the operation, under an advisory lock on (city, key, Idempotency-Key) that a concurrent
    duplicate cannot take (409): a row is always an answered request, never one still running
    (apps/security/api_idempotency.py)."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    idempotency_key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # SHA-256 hex of method, path and body
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    location = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "idempotency_key"], name="api_idempotency_once_per_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.api_key_id}:{self.idempotency_key}"


from apps.security.audit_models import AuditEvent  # noqa: E402,F401
