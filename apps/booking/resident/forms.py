"""The resident's booking forms: how many persons, each person's details, and the booking's contact."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from apps.security.mynumber import RefusesIndividualNumber
from base.date_fields import JapaneseDateField
from base.japanese import notice_number_normalise

NOTICE_SHAPE_MESSAGE = _(
    "交付通知書の番号は、英数字3文字・ハイフン・数字6桁の形で入力してください（例: A1B-123456）。"
)


class PersonsForm(RefusesIndividualNumber, forms.Form):
    persons = forms.TypedChoiceField(label=_("人数"), coerce=int)
    slot = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, max_persons: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["persons"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [(n, _("%(n)d人") % {"n": n}) for n in range(1, max_persons + 1)]
        field.help_text = _("ご家族で来庁する場合は、来庁する全員の人数を選んでください。")


class EmailFirstForm(PersonsForm):
    """The times page of a city that confirms the address first: the link to the form goes to this email."""

    email = forms.EmailField(
        label=_("メールアドレス"),
        help_text=_("入力ページのリンクをお送りします。リンクは30分間有効です。"),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "class": "input"}),
    )


class PersonForm(RefusesIndividualNumber, forms.Form):
    name = forms.CharField(
        label=_("氏名"),
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "name", "class": "input"}),
    )
    kana = forms.CharField(
        label=_("ふりがな"),
        max_length=100,
        required=False,
        help_text=_("ふりがながない方は空欄のままで構いません。"),
        widget=forms.TextInput(attrs={"class": "input"}),
    )
    birth_date = JapaneseDateField(
        label=_("生年月日"), help_text=_("西暦または和暦（令和・平成・昭和・大正）で入力してください。")
    )
    notice_number = forms.CharField(
        label=_("交付通知書の番号"),
        max_length=20,
        error_messages={"required": _("交付通知書の番号を入力してください。")},
        help_text=_("はがきのQRコードの横にある番号です（例: A1B-123456）。"),
        widget=forms.TextInput(attrs={"class": "input", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, requires_notice_number: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not requires_notice_number:
            del self.fields["notice_number"]

    def clean_name(self) -> str:
        return str(self.cleaned_data["name"]).strip()

    def clean_notice_number(self) -> str:
        normalised = notice_number_normalise(self.cleaned_data["notice_number"])
        if normalised is None:
            raise ValidationError(NOTICE_SHAPE_MESSAGE)
        return normalised


class ContactForm(RefusesIndividualNumber, forms.Form):
    email = forms.EmailField(
        label=_("メールアドレス"),
        help_text=_("予約の確認メールと変更・取消のリンクをお送りします。"),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "class": "input"}),
    )
    phone = forms.CharField(
        label=_("電話番号"),
        max_length=20,
        help_text=_("当日連絡が取れる番号（例: 090-1234-5678）"),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "class": "input"}),
    )
    submission_key = forms.UUIDField(widget=forms.HiddenInput)

    def clean_phone(self) -> str:
        phone = unicodedata.normalize("NFKC", self.cleaned_data["phone"]).strip()
        digits = re.sub(r"[-\s()]", "", phone)
        if not re.fullmatch(r"\+?[0-9]{10,15}", digits):
            raise ValidationError(
                _("電話番号は数字10〜11桁で入力してください（ハイフンはあってもなくても構いません）。")
            )
        return phone


class LookupForm(RefusesIndividualNumber, forms.Form):
    code = forms.CharField(
        label=_("予約番号"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "class": "input", "autocapitalize": "characters"}
        ),
    )
    birth_date = JapaneseDateField(label=_("予約した方（1人目）の生年月日"))

    def clean_code(self) -> str:
        folded = unicodedata.normalize("NFKC", self.cleaned_data["code"]).upper()
        return "".join(c for c in folded if c.isalnum())
