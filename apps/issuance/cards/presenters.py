"""The card list's rows and a card's history as shown to staff: labels for choices, changed fields and who acted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.issuance.cards import selectors as selectors_cards
from apps.issuance.models import (
    CancelReason,
    Card,
    CardEvent,
    CardState,
    CounterCheck,
    DisposalMethod,
    NoticePrint,
)


@dataclass(frozen=True)
class Row:
    card: Card
    birth_wareki: str


@dataclass(frozen=True)
class HistoryRow:
    """One line of a card's history, ready to show."""

    at: datetime
    title: str
    from_state: str
    to_state: str
    by: str
    reason: str
    details: list[tuple[str, str]]


def choice_label(choices: type[models.TextChoices], value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def _field_label(name: str) -> str:
    try:
        field = Card._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    return str(getattr(field, "verbose_name", name))


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("はい") if value else _("いいえ")
    return str(value)


def _changes(changes: Any) -> list[tuple[str, str]]:
    """The import's changed fields: {field: {"before": x, "after": y}} or {field: [x, y]}."""
    rows: list[tuple[str, str]] = []
    if not isinstance(changes, dict):
        return [(_("変更"), _shown(changes))]
    for name, change in changes.items():
        if isinstance(change, dict):
            before, after = change.get("before"), change.get("after")
        elif isinstance(change, list | tuple) and len(change) == 2:
            before, after = change
        else:
            rows.append((_field_label(name), _shown(change)))
            continue
        rows.append((_field_label(name), f"{_shown(before)} → {_shown(after)}"))
    return rows


_DATA_LABELS = {
    "batch": gettext_lazy("取込の番号"),
    "line": gettext_lazy("取込ファイルの行"),
    "print_id": gettext_lazy("印刷の番号"),
    "counter_check": gettext_lazy("窓口での確認の番号"),
    "reservation": gettext_lazy("予約番号"),
    "reservation_code": gettext_lazy("予約番号"),
    "reservation_id": gettext_lazy("予約"),
    "file_name": gettext_lazy("ファイル名"),
}
# Labels of coded values some services put in an event's data.
_DATA_CHOICES: dict[str, tuple[Any, type[models.TextChoices]]] = {
    "disposal_method": (gettext_lazy("廃棄の方法"), DisposalMethod),
    "cancel_reason": (gettext_lazy("取消の理由"), CancelReason),
    "variant": (gettext_lazy("用紙"), NoticePrint.Variant),
    "kind": (gettext_lazy("種類"), NoticePrint.Kind),
    "identity_kind": (gettext_lazy("本人確認"), CounterCheck.IdentityKind),
}


def _event_details(data: dict[str, Any]) -> list[tuple[str, str]]:
    """An event's data as label/value pairs. The import's changes come as {"before": {field: x}, "after":
    {field: y}}; older or other shapes ({"changes": {field: {"before", "after"} or [x, y]}}) are read too."""
    details: list[tuple[str, str]] = []
    before, after = data.get("before"), data.get("after")
    if isinstance(before, dict) and isinstance(after, dict):
        for name in dict.fromkeys([*before, *after]):
            details.append((_field_label(name), f"{_shown(before.get(name))} → {_shown(after.get(name))}"))
    for key, value in data.items():
        if key in ("before", "after") and isinstance(before, dict) and isinstance(after, dict):
            continue
        if key == "reservation_id" and "reservation_code" in data:
            continue  # the code is what staff know the booking by
        if key in _DATA_CHOICES:
            label, choices = _DATA_CHOICES[key]
            details.append((str(label), choice_label(choices, value)))
        elif key in ("changes", "changed"):
            details += _changes(value)
        elif key == "proxy":
            details.append((_("代理人による受取"), _shown(bool(value))))
        else:
            details.append((str(_DATA_LABELS.get(key, key)), _shown(value)))
    return details


# Who acted, when it was not a staff member (CardEvent.by_label written by the system or the booking wiring).
_ACTOR_LABELS = {"resident": gettext_lazy("住民（予約の画面から）"), "system": gettext_lazy("システム")}


def _user_label(user: Any) -> str:
    if user is None:
        return _("システム")
    return str(getattr(user, "display_name", "") or user.get_username())


def history_row(entry: selectors_cards.HistoryEntry) -> HistoryRow:
    if entry.kind == "event":
        event: CardEvent = entry.item
        moved = event.to_state and event.from_state != event.to_state
        return HistoryRow(
            at=event.at,
            title=event.get_kind_display(),
            from_state=choice_label(CardState, event.from_state) if moved and event.from_state else "",
            to_state=choice_label(CardState, event.to_state) if moved else "",
            by=str(_ACTOR_LABELS.get(event.by_label, event.by_label)) or _user_label(event.by),
            reason=event.reason,
            details=_event_details(event.data if isinstance(event.data, dict) else {}),
        )
    if entry.kind == "print":
        printed: NoticePrint = entry.item
        return HistoryRow(
            at=printed.at,
            title=_("%(kind)sを印刷") % {"kind": printed.get_kind_display()},
            from_state="",
            to_state="",
            by=_user_label(printed.by),
            reason="",
            details=[
                (_("用紙"), printed.get_variant_display()),
                (_("一緒に印刷した枚数"), str(printed.card_count)),
                *([(_("納品回"), printed.delivery_batch)] if printed.delivery_batch else []),
            ],
        )
    check: CounterCheck = entry.item
    details = [
        (_("結果"), check.get_outcome_display()),
        (_("本人確認"), check.get_identity_kind_display()),
        (_("確認した書類"), "、".join(map(str, check.documents)) or "—"),
    ]
    if check.proxy:
        details += [
            (_("代理人による受取"), check.proxy_reason or _("はい")),
            (_("代理人の確認書類"), "、".join(map(str, check.proxy_documents)) or "—"),
        ]
    if check.guardian:
        details.append((_("法定代理人（15歳未満）"), _("同席")))
    if check.old_cards:
        details.append(
            (_("回収したカード"), "、".join(choice_label(CounterCheck.OldCard, c) for c in check.old_cards))
        )
    details.append((_("受領書に署名"), _shown(check.receipt_signed)))
    return HistoryRow(
        at=check.at,
        title=_("窓口での確認"),
        from_state="",
        to_state="",
        by=_user_label(check.by),
        reason=check.not_issued_reason,
        details=details,
    )
