"""The counter's forms: the one-box search and the checklist. Both refuse a 個人番号 in every field.

The checklist's rules are the service's (`services.check_problems`): the form only parses the input and
puts the service's messages next to the fields they are about.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from apps.issuance.counter import selectors as selectors_counter
from apps.issuance.counter.services import (
    CheckInput,
    IdentityKind,
    Outcome,
    check_problems,
    guardian_needed,
)
from apps.issuance.models import Card, CounterCheck, IdentityDocument, ProxyReason
from apps.security.mynumber import RefusesIndividualNumber
from base.date_fields import JapaneseDateField


class CounterSearchForm(RefusesIndividualNumber, forms.Form):
    q = forms.CharField(
        label=_("予約番号・交付通知書の番号・ふりがな"),
        max_length=100,
        help_text=_(
            "予約番号（8文字）、交付通知書の番号（例 A1B-123456、全角・ハイフンなしも可）、"
            "またはふりがなを入力します。ふりがなで探すときは生年月日も入力してください。"
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True, "spellcheck": "false"}),
    )
    birth_date = JapaneseDateField(label=_("生年月日（ふりがなで探すとき）"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        text = data.get("q")
        unknown = text and selectors_counter.search_kind(text, data.get("birth_date")) is None
        if unknown and not self.has_error("birth_date"):
            self.add_error(
                "q",
                _(
                    "予約番号（8文字）か交付通知書の番号（例 A1B-123456）を入力してください。"
                    "ふりがなで探すときは生年月日も入力してください。"
                ),
            )
        return data


def _document_label(document: IdentityDocument | ProxyReason) -> str:
    return (
        document.name_en
        if (get_language() or "ja").startswith("en") and document.name_en
        else document.name_ja
    )


class DocumentChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return _document_label(obj)


class DocumentsChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return _document_label(obj)


class KindedDocumentsChoice(forms.ModelMultipleChoiceField):
    """Documents of both kinds in one list: each says its kind (運転免許証（A）)."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{_document_label(obj)}（{obj.kind.upper()}）"


class FirstFocusedRadio(forms.RadioSelect):
    """Radios whose first option takes the page's focus: the checklist starts at its first field."""

    def create_option(
        self,
        name: str,
        value: Any,
        label: int | str,
        selected: bool,
        index: int,
        subindex: int | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if index == 0:
            option["attrs"]["autofocus"] = True
        return option


class CounterCheckForm(RefusesIndividualNumber, forms.Form):
    identity_kind = forms.ChoiceField(
        label=_("本人確認の方法"),
        choices=IdentityKind.choices,
        initial=IdentityKind.ONE_A,
        widget=FirstFocusedRadio,
    )
    document_a = DocumentChoice(
        label=_("確認したA書類"),
        queryset=IdentityDocument.objects.none(),
        required=False,
        empty_label=None,
        widget=forms.RadioSelect,
        help_text=_("顔写真付きの書類1点。書類の番号は記録しません。"),
    )
    documents_b = DocumentsChoice(
        label=_("確認したB書類（2点）"),
        queryset=IdentityDocument.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("種類の異なる書類を2点。書類の番号は記録しません。"),
    )
    proxy = forms.BooleanField(label=_("代理人が受け取る"), required=False)
    proxy_reason = DocumentChoice(
        label=_("代理人による受取の理由"),
        queryset=ProxyReason.objects.none(),
        required=False,
        empty_label=_("選んでください"),
    )
    proxy_documents = KindedDocumentsChoice(
        label=_("代理人の本人確認書類"),
        queryset=IdentityDocument.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "A書類1点、またはB書類2点。委任状（交付通知書の委任欄）と代理の理由を証する書類も確認します。"
        ),
    )
    guardian = forms.BooleanField(
        label=_("法定代理人が同行し、法定代理人の本人確認と資格の確認をした"), required=False
    )
    old_cards = forms.MultipleChoiceField(
        label=_("回収したカード"),
        choices=CounterCheck.OldCard.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    receipt_signed = forms.BooleanField(label=_("受領書に署名をもらった"), required=False)
    not_issued_reason = forms.CharField(
        label=_("交付しなかった理由"),
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("「交付しなかった」を記録するときに入力します（例：本人確認書類が足りない）。"),
    )
    reservation = forms.IntegerField(required=False, widget=forms.HiddenInput)
    seen = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, card: Card, today: date, outcome: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.card = card
        self.today = today
        self.outcome = outcome
        self.under_guardian_age = guardian_needed(card, today)
        documents = IdentityDocument.objects.filter(active=True).order_by("kind", "order", "pk")
        self._set_queryset("document_a", documents.filter(kind=IdentityDocument.Kind.A))
        self._set_queryset("documents_b", documents.filter(kind=IdentityDocument.Kind.B))
        self._set_queryset("proxy_documents", documents)
        self._set_queryset("proxy_reason", ProxyReason.objects.filter(active=True).order_by("order", "pk"))
        if not self.under_guardian_age:
            del self.fields["guardian"]

    def _set_queryset(self, name: str, queryset: Any) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = queryset

    def check_input(self) -> CheckInput:
        data = self.cleaned_data
        one_a = data.get("identity_kind") == IdentityKind.ONE_A
        if one_a:
            documents = (data["document_a"].pk,) if data.get("document_a") else ()
        else:
            documents = tuple(d.pk for d in data.get("documents_b") or ())
        proxy = bool(data.get("proxy"))
        return CheckInput(
            outcome=self.outcome,
            identity_kind=data.get("identity_kind") or "",
            documents=documents,
            proxy=proxy,
            proxy_reason_id=data["proxy_reason"].pk if proxy and data.get("proxy_reason") else None,
            proxy_documents=tuple(d.pk for d in data.get("proxy_documents") or ()) if proxy else (),
            guardian=bool(data.get("guardian")),
            old_cards=tuple(data.get("old_cards") or ()),
            receipt_signed=bool(data.get("receipt_signed")),
            not_issued_reason=data.get("not_issued_reason") or "",
            reservation_id=data.get("reservation"),
            seen_checks=data.get("seen"),
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        self.add_problems(check_problems(check=self.check_input(), card=self.card, today=self.today))
        return data

    def add_problems(self, problems: dict[str, list[str]]) -> None:
        for field, messages in problems.items():
            self.add_error(field if field in self.fields else None, messages)


def outcome_of(value: str) -> str:
    return value if value in Outcome.values else ""
