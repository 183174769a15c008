"""Forms of the supervisor's content pages (announcements, email texts); each refuses a 個人番号 first."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.booking.mail_texts import placeholder_errors
from apps.booking.models_content import Announcement, EmailText
from apps.booking.services_content import ANNOUNCEMENT_FIELDS
from apps.security.mynumber import RefusesIndividualNumber

_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class AnnouncementForm(RefusesIndividualNumber, forms.ModelForm):
    class Meta:
        model = Announcement
        fields = ANNOUNCEMENT_FIELDS
        widgets = {
            "starts_at": _DATETIME,
            "ends_at": _DATETIME,
            "body_ja": forms.Textarea(attrs={"rows": 6}),
            "body_en": forms.Textarea(attrs={"rows": 6}),
        }

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("掲載終了は掲載開始より後にしてください。"))
        return data


class EmailTextForm(RefusesIndividualNumber, forms.ModelForm):
    class Meta:
        model = EmailText
        fields = ["subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 14})}

    def clean_subject(self) -> str:
        subject: str = self.cleaned_data["subject"]
        errors = placeholder_errors(subject)
        if errors:
            raise forms.ValidationError(errors)
        return subject

    def clean_body(self) -> str:
        body: str = self.cleaned_data["body"]
        errors = placeholder_errors(body)
        if errors:
            raise forms.ValidationError(errors)
        return body
