"""How the audit log names the console's actions (registered with security's ACTION_LABELS from apps.py)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

LABELS: dict[str, Any] = {
    "console.vendor_role_changed": _("運営者ユーザーの役割の変更"),
    "city.created": _("自治体の登録"),
    "city.status_changed": _("自治体の状態の変更"),
    "city.domain_added": _("自治体のドメインの追加"),
    "city.domain_removed": _("自治体のドメインの削除"),
}
