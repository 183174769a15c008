"""The audit log's filter form (sent by POST, kept under an opaque id: apps/security/searches.py): from, to, action,
actor, address."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.security.audit import AuditFilters
from apps.security.audit_models import ACTION_LABELS
from apps.security.mynumber import RefusesIndividualNumber


def _action_choices() -> list[tuple[str, Any]]:
    return [("", _("すべての操作")), *((code, label) for code, label in ACTION_LABELS.items())]


def _date_field(label: Any) -> forms.DateField:
    return forms.DateField(label=label, required=False, widget=forms.DateInput(attrs={"type": "date"}))


class AuditFilterForm(RefusesIndividualNumber):
    action = forms.ChoiceField(label=_("操作"), required=False, choices=_action_choices)
    actor = forms.CharField(
        label=_("操作者"), required=False, max_length=150, help_text=_("ログイン名の一部で検索します。")
    )
    address = forms.GenericIPAddressField(
        label=_("接続元アドレス"), required=False, unpack_ipv4=True, help_text=_("例: 192.0.2.10")
    )

    def filters(self) -> AuditFilters:
        """The filters the user asked for (call after is_valid())."""
        data = self.cleaned_data
        return AuditFilters(
            date_from=data.get("from"),
            date_to=data.get("to"),
            action=data.get("action") or "",
            actor=(data.get("actor") or "").strip(),
            address=data.get("address") or "",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("from"), data.get("to")
        if start and end and start > end:
            self.add_error("to", _("終了日は開始日以降の日付にしてください。"))
        return data


# `from` and `to` (the query's parameter names) are Python keywords, so they are declared here, before the rest.
AuditFilterForm.base_fields = {
    "from": _date_field(_("開始日")),
    "to": _date_field(_("終了日")),
    **AuditFilterForm.base_fields,
}
