"""Accounts. The same table exists in every schema: the vendor's staff in public, each city's staff in its own."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    email = models.EmailField(_("メールアドレス"), unique=True)
    display_name = models.CharField(_("表示名"), max_length=100, blank=True)

    class Meta(AbstractUser.Meta):
        verbose_name = _("利用者")  # type: ignore[assignment]
        verbose_name_plural = _("利用者")  # type: ignore[assignment]
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return self.display_name or self.username


class Role(models.TextChoices):
    """The groups every city has. Their permissions come with the security work (docs/security.md)."""

    SUPERVISOR = "supervisor", _("管理者")
    STAFF = "staff", _("窓口職員")
