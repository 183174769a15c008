"""Forms of the staff security pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.security.models import SecurityPolicy, normalise_network
from apps.security.mynumber import RefusesIndividualNumber


class NetworkForm(RefusesIndividualNumber):
    cidr = forms.CharField(
        label=_("IPアドレスの範囲"),
        max_length=50,
        help_text=_(
            "例: 192.0.2.0/24、203.0.113.5、2001:db8::/48（IPv4 で /8、IPv6 で /32 より広い範囲は登録できません）"
        ),
    )
    label = forms.CharField(label=_("名称"), max_length=100, help_text=_("例: 本庁舎 市民課"))

    def clean_cidr(self) -> str:
        # Unreadable and too broad ranges (0.0.0.0/0, ...) are refused here with the model's message.
        return normalise_network(self.cleaned_data["cidr"])


class NetworkRemoveForm(forms.Form):
    confirm_self_exclusion = forms.BooleanField(
        label=_("自分の接続元が許可されなくなることを理解した上で削除する"), required=False
    )


class PolicyForm(forms.ModelForm):  # numbers and a checkbox only: no free text to screen
    class Meta:
        model = SecurityPolicy
        fields = ["mfa_required_for_staff", "idle_timeout_minutes", "absolute_timeout_hours"]
