"""Municipalities (tenants) and their hosts. Identity only: what a city configures lives in its own schema."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin

slug_validator = RegexValidator(
    r"^[a-z][a-z0-9]{1,30}$",
    _("半角英小文字で始まり、半角英小文字と数字のみの2〜31文字にしてください。"),
)
lg_code_validator = RegexValidator(r"^\d{6}$", _("全国地方公共団体コードは6桁の数字です（例: 112194）。"))


class Municipality(TenantMixin):
    class Status(models.TextChoices):
        ACTIVE = "active", _("稼働中")
        SUSPENDED = "suspended", _("停止中")
        # The contract is ending: stopped for residents and staff like a suspended city, waiting for the data
        # hand-over and `city_offboard` (docs/operations.md, "Cities").
        OFFBOARDING = "offboarding", _("契約終了手続き中")

    slug = models.CharField(_("識別子"), max_length=31, unique=True, validators=[slug_validator])
    lg_code = models.CharField(
        _("全国地方公共団体コード"), max_length=6, unique=True, validators=[lg_code_validator]
    )
    name_ja = models.CharField(_("名称（日本語）"), max_length=50)
    name_en = models.CharField(_("名称（英語）"), max_length=80)
    prefecture = models.CharField(_("都道府県"), max_length=10)
    status = models.CharField(_("状態"), max_length=12, choices=Status.choices, default=Status.ACTIVE)
    contact_email = models.EmailField(_("連絡先メール"), blank=True)
    contact_phone = models.CharField(_("連絡先電話番号"), max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # tenants.services.municipality_create makes the schema itself (clone or migrate) in one transaction.
    auto_create_schema = False
    auto_drop_schema = True
    clone_mode = "DATA"

    class Meta:
        verbose_name = _("自治体")
        verbose_name_plural = _("自治体")
        ordering = ["lg_code"]

    def __str__(self) -> str:
        return f"{self.name_ja} ({self.slug})"

    @property
    def is_public(self) -> bool:
        return self.schema_name == "public"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    def display_name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_ja


class Domain(DomainMixin):
    class Kind(models.TextChoices):
        STAFF = "staff", _("職員用")
        RESIDENT = "resident", _("住民用")

    kind = models.CharField(_("用途"), max_length=10, choices=Kind.choices, default=Kind.STAFF)

    class Meta:
        verbose_name = _("ドメイン")
        verbose_name_plural = _("ドメイン")

    def __str__(self) -> str:
        return self.domain


class RoutingVersion(models.Model):
    """One row (id 1) in the public schema: set to a new random value in the same transaction as every write to a city or a host.

    Each process keeps host → city in memory (tenants.routing) and polls this row at most once a second, so a
    suspended city or a new host takes effect everywhere within that bound.
    """

    version = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="routing_version_singleton")]

    def __str__(self) -> str:
        return f"routing v{self.version}"


from tenants.pool_models import SpareSchema  # noqa: E402, F401 (the warm pool's table: tenants/pool.py)
