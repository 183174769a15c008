"""Forms of the card list pages. Every one refuses a 個人番号 in any field (RefusesIndividualNumber first)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from apps.issuance.cards.selectors import EXPRESS_NO, EXPRESS_YES, CardFilter
from apps.issuance.cards.services import TransitionInput
from apps.issuance.cards.settings_services import DOCUMENT_FIELDS, REASON_FIELDS, SETTINGS_FIELDS
from apps.issuance.models import (
    CancelReason,
    CardState,
    DisposalMethod,
    IdentityDocument,
    IssuanceSettings,
    ProxyReason,
)
from apps.issuance.states import ACTIONS, BULK_ACTIONS, Action
from apps.security.mynumber import RefusesIndividualNumber

_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
_ANY = ("", _("すべて"))


def _batch_choices(batches: Sequence[str]) -> list[tuple[str, str]]:
    return [(batch, batch) for batch in batches]


class CardFilterForm(RefusesIndividualNumber, forms.Form):
    """The list's filter (a GET form); `filters()` gives the CardFilter the selectors and bulk pages share."""

    q = forms.CharField(
        label=_("番号・ふりがなで検索"),
        max_length=100,
        required=False,
        help_text=_(
            "交付通知書の番号（全角・半角、ハイフンの有無を問いません）か、ふりがなの先頭（ひらがな・カタカナ）"
        ),
    )
    state = forms.ChoiceField(label=_("状態"), required=False, choices=[_ANY, *CardState.choices])
    batch = forms.ChoiceField(label=_("納品回"), required=False)
    delivered_from = forms.DateField(label=_("納品日（から）"), required=False, widget=_DATE)
    delivered_to = forms.DateField(label=_("納品日（まで）"), required=False, widget=_DATE)
    express = forms.ChoiceField(
        label=_("特急発行"),
        required=False,
        choices=[_ANY, (EXPRESS_YES, _("特急発行のみ")), (EXPRESS_NO, _("特急発行を除く"))],
    )

    def __init__(self, *args: Any, batches: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["batch"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [_ANY, *_batch_choices(batches)]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        start, end = data.get("delivered_from"), data.get("delivered_to")
        if start and end and end < start:
            self.add_error("delivered_to", _("納品日の範囲は「から」より後の日を「まで」にしてください。"))
        return data

    def filters(self) -> CardFilter:
        data = self.cleaned_data
        return CardFilter(
            state=data.get("state") or "",
            batch=data.get("batch") or "",
            delivered_from=data.get("delivered_from"),
            delivered_to=data.get("delivered_to"),
            express=data.get("express") or "",
            q=(data.get("q") or "").strip(),
        )


class _ChangeFields(RefusesIndividualNumber, forms.Form):
    """What an action may need besides itself: a reason, the disposal method, the cancel reason."""

    reason = forms.CharField(label=_("理由・メモ"), max_length=300, required=False)
    disposal_method = forms.ChoiceField(
        label=_("廃棄の方法"), choices=DisposalMethod.choices, required=False, widget=forms.RadioSelect
    )
    cancel_reason = forms.ChoiceField(
        label=_("取消の理由"), choices=CancelReason.choices, required=False, widget=forms.RadioSelect
    )

    def _check_change(self, action: Action | None) -> None:
        """The action's own needs, as field errors (the service checks them again, this keeps the input)."""
        if action is None:
            return
        data = self.cleaned_data
        if action.needs_reason and not (data.get("reason") or "").strip():
            self.add_error("reason", _("理由を入力してください。"))
        if action.name == "dispose" and not data.get("disposal_method"):
            self.add_error("disposal_method", _("廃棄の方法を選んでください。"))
        if action.name == "cancel":
            if not data.get("cancel_reason"):
                self.add_error("cancel_reason", _("取消の理由を選んでください。"))
            elif data["cancel_reason"] == CancelReason.OTHER and not (data.get("reason") or "").strip():
                self.add_error("reason", _("取消の理由が「その他」のときは、理由を入力してください。"))

    def change(self, action: Action) -> TransitionInput:
        data = self.cleaned_data
        return TransitionInput(
            action=action.name,
            reason=data.get("reason") or "",
            disposal_method=(data.get("disposal_method") or "") if action.name == "dispose" else "",
            cancel_reason=(data.get("cancel_reason") or "") if action.name == "cancel" else "",
        )


class TransitionForm(_ChangeFields):
    """One action on one card (the card page has one such form per action it offers): only the fields the
    action needs are kept."""

    def __init__(self, *args: Any, action: Action, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"id_{action.name}_%s")
        super().__init__(*args, **kwargs)
        self.action = action
        if action.name != "dispose":
            del self.fields["disposal_method"]
        else:
            self.fields["disposal_method"].required = True
        if action.name != "cancel":
            del self.fields["cancel_reason"]
        else:
            self.fields["cancel_reason"].required = True
        reason = self.fields["reason"]
        reason.required = action.needs_reason
        if action.name == "cancel":
            reason.help_text = _("取消の理由が「その他」のときは必ず入力してください。")

    def clean(self) -> dict[str, Any]:
        super().clean()
        self._check_change(self.action)
        return self.cleaned_data


class IdsField(forms.Field):
    """Card ids from the list's check boxes (several values of one name)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        try:
            ids = [int(v) for v in values]
        except (TypeError, ValueError):
            raise ValidationError(_("選んだカードを読み取れませんでした。もう一度選んでください。")) from None
        if len(ids) > 1000:
            raise ValidationError(
                _("一度に選べるのは1,000件までです。絞り込み条件か納品回で選んでください。")
            )
        return ids


class BulkForm(_ChangeFields):
    """An action on many cards: those ticked on the list, every card matching the list's filter (the filter is
    carried in the same POST under CardFilterForm's names), or a whole delivery batch."""

    SELECTED = "selected"
    FILTER = "filter"
    BATCH = "batch"
    SCOPES = [
        (SELECTED, _("チェックしたカード")),
        (FILTER, _("絞り込み条件に合うすべてのカード")),
        (BATCH, _("納品回のすべてのカード")),
    ]

    action = forms.ChoiceField(label=_("操作"), choices=[(a.name, a.label) for a in BULK_ACTIONS])
    scope = forms.ChoiceField(
        label=_("対象"),
        choices=SCOPES,
        initial=SELECTED,
        widget=forms.RadioSelect,
    )
    target_batch = forms.ChoiceField(label=_("納品回"), required=False)
    ids = IdsField(required=False)
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    field_order = ["action", "scope", "target_batch", "disposal_method", "cancel_reason", "reason"]

    def __init__(self, *args: Any, batches: Sequence[str] = (), **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_bulk_%s")
        super().__init__(*args, **kwargs)
        field = self.fields["target_batch"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _("（対象が納品回のときに選択）")), *_batch_choices(batches)]
        self.fields["reason"].help_text = _("取消の理由が「その他」のときは必ず入力してください。")
        self.fields["disposal_method"].help_text = _("「廃棄済にする」のときに選択")
        self.fields["cancel_reason"].help_text = _("「取消にする」のときに選択")

    @property
    def chosen_action(self) -> Action | None:
        name = self.cleaned_data.get("action") if hasattr(self, "cleaned_data") else None
        return ACTIONS.get(name or "")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        self._check_change(self.chosen_action)
        scope = data.get("scope")
        if scope == self.SELECTED and not data.get("ids") and "ids" not in self.errors:
            self.add_error("scope", _("カードを1件以上チェックしてください。"))
        if scope == self.BATCH and not data.get("target_batch"):
            self.add_error("target_batch", _("納品回を選んでください。"))
        return data


class IssuanceSettingsForm(RefusesIndividualNumber, forms.ModelForm):
    class Meta:
        model = IssuanceSettings
        fields = SETTINGS_FIELDS


class IdentityDocumentForm(RefusesIndividualNumber, forms.ModelForm):
    class Meta:
        model = IdentityDocument
        fields = DOCUMENT_FIELDS
        help_texts = {"order": _("小さい番号から順に表示します。")}


class ProxyReasonForm(RefusesIndividualNumber, forms.ModelForm):
    class Meta:
        model = ProxyReason
        fields = REASON_FIELDS
        help_texts = {"order": _("小さい番号から順に表示します。")}


class ActiveForm(RefusesIndividualNumber, forms.Form):
    """Deactivate (or use again) a list entry: a button with active=0 or 1."""

    active = forms.TypedChoiceField(choices=[("0", "0"), ("1", "1")], coerce=lambda v: v == "1")
