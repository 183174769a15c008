"""Booking. This issue holds the city's look on its pages; counters, slots and reservations come with booking."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from frontend.colors import contrast_ratio

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
