"""Forms of the work lists and reports: GET filters (period, month, export encoding) and the bulk confirmation."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.issuance.reports.exports import ENCODING_CHOICES, UTF8_BOM
from apps.issuance.reports.selectors import DAY, MONTH
from apps.security.mynumber import RefusesIndividualNumber, validate_no_individual_number

MAX_PERIOD_DAYS = 366
MAX_BULK = 5000  # cards per bulk action; a longer list is done in several runs (oldest first)
_MONTH = re.compile(r"(\d{4})\s*[-/年.]\s*(\d{1,2})\s*月?")


class DayField(forms.DateField):
    """A date; a 個人番号 typed into it gets its own message rather than "not a date"."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            validate_no_individual_number(value)
        return super().to_python(value)


def _date_field(label: Any) -> forms.DateField:
    return DayField(label=label, required=False, widget=forms.DateInput(attrs={"type": "date"}))


class MonthField(forms.CharField):
    """A month typed as 2026-11 (the month input), 2026/11 or 2026年11月, in any width; cleans to its first day."""

    widget = forms.TextInput(attrs={"type": "month", "inputmode": "numeric", "autocomplete": "off"})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("help_text", _("例: 2026-11"))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text:
            return None
        validate_no_individual_number(text)  # its own message, before the format's
        match = _MONTH.fullmatch(unicodedata.normalize("NFKC", text).strip())
        if not match or not (2000 <= int(match[1]) <= 2100 and 1 <= int(match[2]) <= 12):
            raise forms.ValidationError(_("月は 2026-11 のように入力してください。"), code="invalid")
        return date(int(match[1]), int(match[2]), 1)

    def run_validators(self, value: Any) -> None:
        # The validators (the 個人番号 check included) read the text, not the date it became.
        super().run_validators(value.isoformat()[:7] if isinstance(value, date) else value)


class ExportForm(forms.Form):
    """How a CSV is written (query string of every export link)."""

    encoding = forms.ChoiceField(label=_("文字コード"), choices=ENCODING_CHOICES, required=False)
    leave_out = forms.BooleanField(label=_("cp932で表せない文字を含む行を除いて出力する"), required=False)

    def clean_encoding(self) -> str:
        return self.cleaned_data.get("encoding") or UTF8_BOM


class NoShowFilterForm(RefusesIndividualNumber):
    """The no-show list's period; both days included; at most a year."""

    def period(self) -> tuple[date, date]:
        today = timezone.localdate()
        start = self.cleaned_data.get("from") or today - timedelta(days=30)
        end = self.cleaned_data.get("to") or today
        return start, end

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        start, end = self.period()
        if start > end:
            self.add_error("to", _("終了日は開始日以降の日付にしてください。"))
        elif (end - start).days >= MAX_PERIOD_DAYS:
            self.add_error("to", _("期間は1年以内にしてください。"))
        return data


# `from` and `to` (the query's parameter names) are Python keywords, so they are declared here.
NoShowFilterForm.base_fields = {"from": _date_field(_("開始日")), "to": _date_field(_("終了日"))}


def _with_defaults(query: Any, defaults: dict[str, str]) -> Any:
    """The query with each empty field set to its default, so the page shows what it reports on."""
    data = query.copy()
    for name, value in defaults.items():
        if not data.get(name):
            data[name] = value
    return data


def _this_month() -> str:
    return f"{timezone.localdate():%Y-%m}"


class ReportForm(RefusesIndividualNumber):
    unit = forms.ChoiceField(
        label=_("集計の単位"),
        choices=[(DAY, _("日別（選んだ月の各日）")), (MONTH, _("月別（選んだ月までの12か月）"))],
        required=False,
        widget=forms.RadioSelect,
    )
    month = MonthField(label=_("月"), required=False)

    @classmethod
    def from_query(cls, query: Any) -> ReportForm:
        return cls(_with_defaults(query, {"unit": DAY, "month": _this_month()}))

    def values(self) -> tuple[str, date]:
        """The unit and the month asked for (call after is_valid()); this month by default."""
        month = self.cleaned_data.get("month") or timezone.localdate().replace(day=1)
        return self.cleaned_data.get("unit") or DAY, month


class MonthForm(RefusesIndividualNumber):
    month = MonthField(label=_("月"), required=False)

    @classmethod
    def from_query(cls, query: Any) -> MonthForm:
        return cls(_with_defaults(query, {"month": _this_month()}))

    def month_value(self) -> date:
        return self.cleaned_data.get("month") or timezone.localdate().replace(day=1)


class BulkConfirmForm(forms.Form):
    """The cards the confirmation page showed, sent back when the user confirms (hidden, comma separated)."""

    cards = forms.CharField(widget=forms.HiddenInput, max_length=MAX_BULK * 12)

    def clean_cards(self) -> list[int]:
        text = self.cleaned_data["cards"]
        if not re.fullmatch(r"\d{1,10}(,\d{1,10})*", text):
            raise forms.ValidationError(_("対象のカードを確認できませんでした。一覧からやり直してください。"))
        ids = list(dict.fromkeys(int(part) for part in text.split(",")))
        if len(ids) > MAX_BULK:
            raise forms.ValidationError(_("一度に扱えるのは%(max)d件までです。") % {"max": MAX_BULK})
        return ids
