from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.security.mynumber import RefusesIndividualNumber
from console.support.models import Scope
from console.support.selectors import VendorUser

DURATIONS = [
    (30, _("30分")),
    (60, _("1時間")),
    (120, _("2時間")),
    (240, _("4時間")),
    (480, _("8時間")),
]


class GrantForm(RefusesIndividualNumber, forms.Form):
    grantee = forms.TypedChoiceField(label=_("運営事業者の担当者"), coerce=int)
    scope = forms.ChoiceField(label=_("見せる範囲（閲覧のみ）"), choices=Scope.choices)
    duration = forms.TypedChoiceField(label=_("期間（今から）"), choices=DURATIONS, coerce=int, initial=60)
    reason = forms.CharField(
        label=_("理由"),
        max_length=500,
        help_text=_("問い合わせの番号や内容など。個人番号は入力できません。"),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args: Any, candidates: list[VendorUser], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["grantee"].choices = [  # type: ignore[attr-defined]
            (user.id, f"{user.username}（{user.display_name}）" if user.display_name else user.username)
            for user in candidates
        ]

    @property
    def duration_delta(self) -> timedelta:
        return timedelta(minutes=self.cleaned_data["duration"])
