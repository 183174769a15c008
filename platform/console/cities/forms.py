"""The console's city forms: every field refuses a 個人番号; messages in Japanese."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from apps.security.mynumber import RefusesIndividualNumber
from console.cities.services import CityCreateInput
from tenants.models import Domain, Municipality
from tenants.services import MunicipalityInput


class CityCreateForm(RefusesIndividualNumber, forms.Form):
    slug = forms.CharField(
        label=_("識別子"), max_length=31, help_text=_("半角英小文字で始まる英小文字と数字（例: kitamoto）。")
    )
    lg_code = forms.CharField(
        label=_("全国地方公共団体コード"), max_length=6, help_text=_("6桁（例: 112330）")
    )
    name_ja = forms.CharField(label=_("名称（日本語）"), max_length=50)
    name_en = forms.CharField(label=_("名称（英語）"), max_length=80)
    prefecture = forms.CharField(label=_("都道府県"), max_length=10)
    contact_email = forms.EmailField(label=_("連絡先メール"), required=False)
    contact_phone = forms.CharField(label=_("連絡先電話番号"), max_length=20, required=False)
    host = forms.CharField(label=_("ホスト名"), max_length=253, help_text=_("例: kitamoto.madoguchi.example"))
    network_cidr = forms.CharField(
        label=_("接続を許可する最初のネットワーク"), max_length=50, help_text=_("例: 192.0.2.0/24")
    )
    network_label = forms.CharField(
        label=_("ネットワークの名称"), max_length=100, help_text=_("例: 本庁舎 市民課")
    )
    supervisor_username = forms.CharField(label=_("最初の管理者のログイン名"), max_length=150)
    supervisor_email = forms.EmailField(label=_("最初の管理者のメールアドレス"))
    supervisor_name = forms.CharField(label=_("最初の管理者の表示名"), max_length=100, required=False)

    def to_input(self) -> CityCreateInput:
        d = self.cleaned_data
        return CityCreateInput(
            data=MunicipalityInput(
                slug=d["slug"].strip(),
                lg_code=d["lg_code"].strip(),
                name_ja=d["name_ja"].strip(),
                name_en=d["name_en"].strip(),
                prefecture=d["prefecture"].strip(),
                contact_email=d["contact_email"],
                contact_phone=d["contact_phone"].strip(),
            ),
            host=d["host"],
            network_cidr=d["network_cidr"].strip(),
            network_label=d["network_label"].strip(),
            supervisor_username=d["supervisor_username"].strip(),
            supervisor_email=d["supervisor_email"],
            supervisor_name=d["supervisor_name"].strip(),
        )

    def add_errors(self, exc: ValidationError) -> None:
        """The service's errors by field, on the form (unknown fields as the form's own)."""
        if hasattr(exc, "error_dict"):
            for field, messages in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        else:
            self.add_error(None, exc.messages)


class CityStatusForm(RefusesIndividualNumber, forms.Form):
    status = forms.ChoiceField(
        label=_("新しい状態"),
        choices=Municipality.Status.choices,
        error_messages={"invalid_choice": _("状態を一覧から選んでください。")},
    )
    reason = forms.CharField(label=_("理由"), max_length=200, help_text=_("監査ログに記録されます。"))


class DomainForm(RefusesIndividualNumber, forms.Form):
    host = forms.CharField(label=_("ホスト名"), max_length=253)
    kind = forms.ChoiceField(label=_("用途"), choices=Domain.Kind.choices, initial=Domain.Kind.RESIDENT)
