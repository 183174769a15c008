"""How the audit log names the maintenance actions (registered from apps.py)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

LABELS: dict[str, Any] = {
    "maintenance.proposed": _("メンテナンスの提案"),
    "maintenance.cancelled": _("メンテナンスの取消"),
    "maintenance.approved": _("メンテナンスの承認"),
    "maintenance.rejected": _("メンテナンスの却下"),
}
