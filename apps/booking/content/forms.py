"""Forms of the supervisor's content pages (announcements, email texts); each refuses a 個人番号 first."""

from __future__ import annotations

from django import forms

from apps.booking.content.services import ANNOUNCEMENT_FIELDS
from apps.booking.models_content import Announcement, EmailText
from apps.booking.reservations.mail_texts import placeholder_errors
from apps.security.mynumber import RefusesIndividualNumber

_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class AnnouncementForm(RefusesIndividualNumber, forms.ModelForm):
    """An end before the start is refused by the model's clean() (base.notices.BilingualNotice), on the end field."""

    class Meta:
        model = Announcement
        fields = ANNOUNCEMENT_FIELDS
        widgets = {
            "starts_at": _DATETIME,
            "ends_at": _DATETIME,
            "body_ja": forms.Textarea(attrs={"rows": 6}),
            "body_en": forms.Textarea(attrs={"rows": 6}),
        }


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
