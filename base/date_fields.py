"""A date of birth typed in 西暦 or 和暦: an era select (西暦, 令和, 平成, 昭和, 大正) + year + month + day.

Residents write their birth date the way their documents do; both ways give the same `date`. The year accepts
"元" (元年) and full-width digits. Errors say what is wrong in words, never only "invalid".
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from base.japanese import ERAS

WESTERN = "western"
_ERA_BY_CODE = {code: (name, first) for code, name, first in ERAS}


def _number(text: str) -> int | None:
    text = unicodedata.normalize("NFKC", text or "").strip()
    if text == "元":
        return 1
    return int(text) if text.isdigit() and len(text) <= 4 else None


class JapaneseDateWidget(forms.MultiWidget):
    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        era_choices = [(WESTERN, _("西暦")), *((code, name) for code, name, _first in ERAS)]
        number = {"inputmode": "numeric", "autocomplete": "off", "class": "input input--short"}
        widgets = [
            forms.Select(choices=era_choices, attrs={"class": "input input--era"}),
            forms.TextInput(attrs={**number, "maxlength": "4", "size": "4"}),
            forms.TextInput(attrs={**number, "maxlength": "2", "size": "2"}),
            forms.TextInput(attrs={**number, "maxlength": "2", "size": "2"}),
        ]
        super().__init__(widgets, attrs)

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        """Each part with its own (visually hidden) label, and 年/月/日 after the numbers."""
        context = self.get_context(name, value, attrs)
        values = value if isinstance(value, list | tuple) else self.decompress(value)
        labels = [_("年号"), _("年"), _("月"), _("日")]
        parts = []
        for index, (widget, sub) in enumerate(
            zip(self.widgets, context["widget"]["subwidgets"], strict=True)
        ):
            control = widget.render(
                sub["name"], values[index] if index < len(values) else None, sub["attrs"], renderer
            )
            suffix = format_html('<span aria-hidden="true">{}</span>', labels[index]) if index else ""
            parts.append(
                format_html(
                    '<span class="date-parts__part"><label class="visually-hidden" for="{}">{}</label>{}{}</span>',
                    sub["attrs"].get("id", ""),
                    labels[index],
                    control,
                    suffix,
                )
            )
        return format_html('<span class="date-parts">{}</span>', mark_safe(" ".join(parts)))  # noqa: S308

    def decompress(self, value: Any) -> list[Any]:
        if isinstance(value, date):
            return [WESTERN, str(value.year), str(value.month), str(value.day)]
        return [WESTERN, "", "", ""]


class JapaneseDateField(forms.MultiValueField):
    """A real date from 西暦 or 和暦 parts, within the era it names, not in the future."""

    widget = JapaneseDateWidget
    default_error_messages = {
        "required": _("生年月日を入力してください。"),
        "incomplete": _("生年月日の年・月・日をすべて入力してください。"),
        "number": _("年・月・日は数字で入力してください。"),
        "invalid_date": _("%(value)s という日はありません。日付を確かめてください。"),
        "outside_era": _("%(era)s%(year)s年%(month)s月%(day)s日 は%(era)sの期間にありません。"),
        "future": _("生年月日が未来の日付になっています。"),
        "too_old": _("生年月日を確かめてください。"),
    }

    def __init__(self, **kwargs: Any) -> None:
        fields = (
            forms.CharField(),
            forms.CharField(required=False),
            forms.CharField(required=False),
            forms.CharField(required=False),
        )
        super().__init__(fields, require_all_fields=False, **kwargs)

    def compress(self, data_list: list[Any]) -> date | None:
        if not data_list or not any(data_list[1:]):
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return None
        era, year_text, month_text, day_text = [*data_list, "", "", "", ""][:4]
        if not (year_text and month_text and day_text):
            raise ValidationError(self.error_messages["incomplete"], code="incomplete")
        year, month, day = _number(year_text), _number(month_text), _number(day_text)
        if year is None or month is None or day is None:
            raise ValidationError(self.error_messages["number"], code="number")
        if era != WESTERN:
            if era not in _ERA_BY_CODE:
                raise ValidationError(self.error_messages["incomplete"], code="incomplete")
            name, first = _ERA_BY_CODE[era]
            western = first.year + year - 1
        else:
            name, first, western = "", date.min, year
        try:
            value = date(western, month, day)
        except ValueError:
            shown = f"{name}{year}年{month}月{day}日" if name else f"{year}年{month}月{day}日"
            raise ValidationError(
                self.error_messages["invalid_date"], code="invalid_date", params={"value": shown}
            ) from None
        if era != WESTERN:
            index = [code for code, _n, _f in ERAS].index(era)
            end = ERAS[index - 1][2] if index > 0 else date.max
            if not first <= value < end:
                raise ValidationError(
                    self.error_messages["outside_era"],
                    code="outside_era",
                    params={"era": name, "year": year, "month": month, "day": day},
                )
        if value > date.today():
            raise ValidationError(self.error_messages["future"], code="future")
        if value.year < 1900:
            raise ValidationError(self.error_messages["too_old"], code="too_old")
        return value
