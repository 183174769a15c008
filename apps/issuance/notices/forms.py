"""The notice-printing form: which cards (a delivery batch and/or a state), which paper, which letter."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.issuance.models import CardState, NoticePrint
from apps.issuance.notices import selectors as selectors_notices
from apps.issuance.notices.services import PRINTABLE_STATES, Selection
from apps.security.mynumber import RefusesIndividualNumber, validate_no_individual_number


class Choice(forms.ChoiceField):
    """A choice that refuses a 個人番号 with its own message before "not one of the choices", which would echo
    the number back onto the page."""

    default_error_messages = {"invalid_choice": _("一覧から選んでください。")}

    def validate(self, value: Any) -> None:
        validate_no_individual_number(value)
        super().validate(value)


class NoticePrintForm(RefusesIndividualNumber, forms.Form):
    batch = Choice(
        label=_("納品回"),
        required=False,
        help_text=_("カード一覧の取込で付けた納品回です。"),
    )
    state = Choice(
        label=_("カードの状態"),
        required=False,
        help_text=_("納品回と組み合わせると、その納品回のうちこの状態のカードだけを印刷します。"),
    )
    variant = Choice(
        label=_("用紙"),
        choices=NoticePrint.Variant.choices,
        initial=NoticePrint.Variant.LETTER,
        widget=forms.RadioSelect,
    )
    kind = Choice(
        label=_("通知書の種類"),
        choices=NoticePrint.Kind.choices,
        initial=NoticePrint.Kind.NOTICE,
        widget=forms.RadioSelect,
        help_text=_("再通知は「通知書発送済」のカードにだけ印刷できます。"),
    )
    mark_mailed = forms.BooleanField(
        label=_("印刷したら、交付前設定済のカードを「通知書発送済」にする"),
        required=False,
        help_text=_(
            "交付通知書の場合だけ。すぐに発送しないときは外してください（カード一覧から後で変更できます）。"
        ),
    )

    part = forms.IntegerField(
        label=_("分けて印刷するときの回"),
        required=False,
        min_value=1,
        max_value=1000,
        help_text=_(
            "1,000通を超えるときは、郵便番号の順に1,000通ずつ分けて印刷します。1回目は「1」、2回目は「2」…と"
            "入力してください。空欄はすべて（1,000通まで）です。"
        ),
        widget=forms.NumberInput(attrs={"class": "input input--short", "inputmode": "numeric"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        batches = selectors_notices.delivery_batches()
        self.fields["batch"].choices = [  # type: ignore[attr-defined]
            ("", _("指定しない")),
            *(
                (batch, _("%(batch)s（%(count)d件）") % {"batch": batch, "count": count})
                for batch, count in batches
            ),
        ]
        self.fields["state"].choices = [  # type: ignore[attr-defined]
            ("", _("指定しない")),
            *((state.value, CardState(state).label) for state in PRINTABLE_STATES),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors and not data.get("batch") and not data.get("state"):
            raise forms.ValidationError(_("納品回かカードの状態を選んでください。"))
        return data

    def selection(self) -> Selection:
        return Selection(
            batch=self.cleaned_data["batch"],
            state=self.cleaned_data["state"],
            part=self.cleaned_data.get("part") or 0,
        )


class CardNoticeForm(forms.Form):
    """The query string of one card's PDF (?variant=postcard&kind=reminder); both optional."""

    variant = Choice(choices=NoticePrint.Variant.choices, required=False)
    kind = Choice(choices=NoticePrint.Kind.choices, required=False)
