"""Forms of the card-list import: the upload (file + column mapping) and a saved column mapping."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.issuance.imports.csv_read import COLUMNS, DEFAULT_MAPPING
from apps.issuance.models import ColumnMapping
from apps.security.mynumber import RefusesIndividualNumber


class ImportUploadForm(RefusesIndividualNumber, forms.Form):
    file = forms.FileField(
        label=_("カード一覧のCSVファイル"),
        help_text=_("UTF-8（BOM付きも可）またはShift_JIS（cp932）のCSV。1行目は列の見出しにしてください。"),
        error_messages={"required": _("ファイルを選んでください。"), "empty": _("ファイルが空です。")},
    )
    mapping = forms.ModelChoiceField(
        label=_("列の対応"),
        queryset=ColumnMapping.objects.none(),
        required=False,
        empty_label=_("標準の見出し（交付通知書番号、氏名、…）"),
        help_text=_("ファイルの見出しが標準と違うときは、保存した列の対応を選びます。"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["mapping"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = ColumnMapping.objects.order_by("name")
        self.fields["file"].widget.attrs["accept"] = ".csv,text/csv"


class ColumnMappingForm(RefusesIndividualNumber, forms.Form):
    """A name, and for each field the header the city's file uses for it (blank: an optional field it lacks)."""

    name = forms.CharField(label=_("名前"), max_length=100, help_text=_("例: 住基システムの出力"))

    def __init__(self, *args: Any, instance: ColumnMapping | None = None, **kwargs: Any) -> None:
        self.instance = instance
        initial = dict(kwargs.pop("initial", None) or {})
        columns = instance.columns if instance is not None else DEFAULT_MAPPING
        if instance is not None:
            initial.setdefault("name", instance.name)
        for column in COLUMNS:
            initial.setdefault(f"col_{column.key}", columns.get(column.key, ""))
        super().__init__(*args, initial=initial, **kwargs)
        for column in COLUMNS:
            self.fields[f"col_{column.key}"] = forms.CharField(
                label=str(column.label),
                max_length=100,
                required=column.required,
                help_text=_("標準の見出し: %(header)s") % {"header": column.header},
            )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        others = ColumnMapping.objects.filter(name=name)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(_("同じ名前の列の対応があります。"))
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        used: dict[str, str] = {}
        for column in COLUMNS:
            header = (cleaned.get(f"col_{column.key}") or "").strip()
            if not header:
                continue
            if header in used:
                self.add_error(
                    f"col_{column.key}",
                    _("見出し「%(header)s」は「%(other)s」にも使われています。")
                    % {
                        "header": header,
                        "other": used[header],
                    },
                )
            used[header] = str(column.label)
        return cleaned

    def columns(self) -> dict[str, str]:
        return {c.key: (self.cleaned_data.get(f"col_{c.key}") or "").strip() for c in COLUMNS}
