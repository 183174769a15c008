"""Forms of the supervisors' API key pages (apps/security/views_api_keys.py).

The expiry is a date (the key works until the end of that day, Japan time) and is required: a key that never
expires is forgotten in some system's configuration; the mail before expiry (apps/security/api_key_tasks.py)
reminds the supervisors in time to rotate it with a new date.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.security.models import ApiScope
from apps.security.mynumber import RefusesIndividualNumber

DEFAULT_VALIDITY = timedelta(days=365)
MAX_VALIDITY = timedelta(days=3 * 365)

# What each scope lets the city's system do, for the checkboxes (the API checks the scopes: docs/api.md).
SCOPE_HELP: dict[str, str | Promise] = {
    ApiScope.SLOTS_READ: _("予約できる日時と残り人数を読み取れます。"),
    ApiScope.RESERVATIONS_READ: _("予約の一覧と内容（氏名・連絡先を含む）を読み取れます。"),
    ApiScope.RESERVATIONS_WRITE: _("予約の登録・変更・取消ができます。"),
    ApiScope.CARDS_READ: _("交付するカードの一覧と状態を読み取れます。"),
    ApiScope.CARDS_WRITE: _("カードの登録と状態の更新ができます。"),
    ApiScope.REPORTS_READ: _("交付と予約の集計を読み取れます。"),
}


def _scope_choices() -> list[tuple[str, str]]:
    return [(value, f"{label}（{value}）: {SCOPE_HELP.get(value, '')}") for value, label in ApiScope.choices]


def end_of_day(day: date) -> datetime:
    """The last moment of `day` in the site's time zone (Japan): a key "valid until 2027-03-31" works all that day."""
    return datetime.combine(day, time.max, tzinfo=timezone.get_current_timezone())


def default_expiry() -> date:
    return timezone.localdate() + DEFAULT_VALIDITY


class ExpiryField(forms.DateField):
    widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

    def validate(self, value: date | None) -> None:
        super().validate(value)
        if value is None:
            return
        today = timezone.localdate()
        if value <= today:
            raise forms.ValidationError(_("有効期限は明日以降の日付にしてください。"), code="past")
        if value > today + MAX_VALIDITY:
            raise forms.ValidationError(_("有効期限は3年以内の日付にしてください。"), code="too_far")


def _expiry_field() -> ExpiryField:
    return ExpiryField(
        label=_("有効期限"),
        initial=default_expiry,
        help_text=_(
            "この日の終わり（日本時間）まで使えます。最長3年。期限が近づくと管理者へメールでお知らせします。"
        ),
    )


class ApiKeyCreateForm(RefusesIndividualNumber):
    name = forms.CharField(
        label=_("名称"),
        max_length=100,
        help_text=_("どのシステムが使うキーか分かる名前。例: 住民記録システム（本番）"),
    )
    scopes = forms.MultipleChoiceField(
        label=_("権限"),
        choices=_scope_choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("そのシステムに必要な権限だけを選んでください。"),
        error_messages={"required": _("権限を1つ以上選んでください。")},
    )
    expires_on = _expiry_field()

    @property
    def expires_at(self) -> datetime:
        return end_of_day(self.cleaned_data["expires_on"])


class ApiKeyRotateForm(forms.Form):  # a date only: no free text to screen
    expires_on = _expiry_field()

    @property
    def expires_at(self) -> datetime:
        return end_of_day(self.cleaned_data["expires_on"])
