"""The console's proposal form and the city's answer form (both refuse a 個人番号 in every field)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.security.mynumber import RefusesIndividualNumber
from console.maintenance.models import Module
from tenants.models import Municipality

_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class ProposalForm(RefusesIndividualNumber, forms.Form):
    cities = forms.ModelMultipleChoiceField(
        label=_("対象の市区町村"),
        queryset=Municipality.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )
    modules = forms.MultipleChoiceField(
        label=_("止める機能"), choices=Module.choices, widget=forms.CheckboxSelectMultiple
    )
    window_start = forms.DateTimeField(label=_("開始"), widget=_DATETIME)
    window_end = forms.DateTimeField(label=_("終了"), widget=_DATETIME)
    title_ja = forms.CharField(label=_("件名（日本語）"), max_length=200)
    body_ja = forms.CharField(
        label=_("内容と理由（日本語）"), widget=forms.Textarea(attrs={"rows": 4}), max_length=4000
    )
    title_en = forms.CharField(label=_("件名（英語）"), max_length=200, required=False)
    body_en = forms.CharField(
        label=_("内容と理由（英語）"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        required=False,
    )
    confirm_overlap = forms.BooleanField(label=_("提供時間に重なることを承知で提案する"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cities = Municipality.objects.exclude(schema_name="public").filter(status=Municipality.Status.ACTIVE)
        self.fields["cities"].queryset = cities.order_by("slug")  # type: ignore[attr-defined]
        self.fields["cities"].label_from_instance = lambda city: f"{city.name_ja} ({city.slug})"  # type: ignore[attr-defined]


class DecisionForm(RefusesIndividualNumber, forms.Form):
    decision = forms.ChoiceField(
        label=_("回答"),
        choices=[("approve", _("承認する")), ("reject", _("却下する"))],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("コメント（任意）"), widget=forms.Textarea(attrs={"rows": 3}), max_length=1000, required=False
    )
