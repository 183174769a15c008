"""The console's own forms (the vendor users' roles); each feature keeps its forms in its package."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from console.access import VendorRole

NO_ROLE = ""


class VendorRoleForm(forms.Form):
    user = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    role = forms.ChoiceField(
        label=_("役割"),
        choices=[(NO_ROLE, _("役割なし")), *VendorRole.choices],
        required=False,
        error_messages={"invalid_choice": _("役割を一覧から選んでください。")},
    )

    def chosen_role(self) -> VendorRole | None:
        value = self.cleaned_data.get("role") or NO_ROLE
        return VendorRole(value) if value else None
