"""How the audit log names issuance's actions (registered with security's ACTION_LABELS from apps.py)."""

from __future__ import annotations

from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.issuance.states import ACTIONS


def labels() -> dict[str, Any]:
    named: dict[str, Any] = {
        "issuance.settings_changed": _("交付の設定の変更"),
        "issuance.document_saved": _("本人確認書類の保存"),
        "issuance.proxy_reason_saved": _("代理受取の理由の保存"),
        "card.notices_printed": _("交付通知書の印刷"),
    }
    for name, action in ACTIONS.items():
        named[f"card.{name}"] = format_lazy("{}: {}", _("カード"), action.label)
        named[f"card.bulk_{name}"] = format_lazy("{}: {}", _("カード（一括）"), action.label)
    return named
