"""The report's month, and the incident forms (console, operator and up). Free text refuses a 個人番号."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.security.mynumber import RefusesIndividualNumber
from console.availability.models import Incident
from console.maintenance.models import Module
from tenants.models import Municipality

FIRST_MONTH = date(2024, 10, 1)  # the contract's first month (DOMAIN.md)
_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
MAX_CITIES_TYPED = 2000


class MonthForm(forms.Form):
    month = forms.DateField(
        label=_("月"),
        input_formats=["%Y-%m"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
        error_messages={"invalid": _("月は 2026-11 のように入れてください。")},
    )

    def clean_month(self) -> date:
        month: date = self.cleaned_data["month"].replace(day=1)
        this_month = timezone.localdate().replace(day=1)
        if not FIRST_MONTH <= month <= this_month:
            raise forms.ValidationError(
                _("%(first)s から今月までの月を選んでください。") % {"first": f"{FIRST_MONTH:%Y-%m}"}
            )
        return month

    def month_or_this(self) -> date:
        return (
            self.cleaned_data["month"]
            if self.is_bound and self.is_valid()
            else timezone.localdate().replace(day=1)
        )


class IncidentForm(RefusesIndividualNumber, forms.Form):
    title = forms.CharField(label=_("件名"), max_length=200)
    received_at = forms.DateTimeField(label=pgettext_lazy("incident", "受付日時"), widget=_DATETIME)
    received_via = forms.ChoiceField(label=_("受付方法"), choices=Incident.Channel.choices)
    severity = forms.ChoiceField(label=_("重大度"), choices=Incident.Severity.choices)
    status = forms.ChoiceField(label=_("状態"), choices=Incident.Status.choices)
    all_cities = forms.BooleanField(label=_("すべての自治体"), required=False)
    cities = forms.CharField(
        label=_("影響を受けた自治体"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("識別子（例: ageo okegawa）を空白か読点で区切って入れてください。"),
    )
    modules = forms.MultipleChoiceField(
        label=_("影響を受けた機能"), choices=Module.choices, widget=forms.CheckboxSelectMultiple
    )
    cause = forms.CharField(label=_("原因"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    resolution = forms.CharField(
        label=_("対処・再発防止"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    resolved_at = forms.DateTimeField(label=_("解決日時"), required=False, widget=_DATETIME)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        if data.get("all_cities"):
            data["municipality_ids"] = list(
                Municipality.objects.exclude(schema_name="public").values_list("pk", flat=True)
            )
            return data
        slugs = [s for s in str(data.get("cities", "")).replace("、", " ").replace(",", " ").split() if s]
        found = dict(Municipality.objects.filter(slug__in=slugs[:MAX_CITIES_TYPED]).values_list("slug", "pk"))
        unknown = [s for s in slugs if s not in found]
        if unknown:
            self.add_error("cities", _("見つからない識別子: %(slugs)s") % {"slugs": " ".join(unknown[:20])})
        elif not found:
            self.add_error("cities", _("影響を受けた自治体を入れるか「すべての自治体」を選んでください。"))
        data["municipality_ids"] = list(found.values())
        return data


def incident_initial(incident: Incident) -> dict[str, Any]:
    slugs = " ".join(sorted(m.slug for m in incident.municipalities.all()))
    return {
        "title": incident.title,
        "received_at": timezone.localtime(incident.received_at),
        "received_via": incident.received_via,
        "severity": incident.severity,
        "status": incident.status,
        "cities": slugs,
        "modules": list(incident.modules),
        "cause": incident.cause,
        "resolution": incident.resolution,
        "resolved_at": timezone.localtime(incident.resolved_at) if incident.resolved_at else None,
    }


class IncidentEntryForm(RefusesIndividualNumber, forms.Form):
    at = forms.DateTimeField(label=_("日時"), widget=_DATETIME)
    text = forms.CharField(label=_("内容"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))
