"""How the audit log names the incident actions (registered from apps.py)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

LABELS: dict[str, Any] = {
    "incident.recorded": _("障害の記録"),
    "incident.updated": _("障害の更新"),
    "incident.entry_added": _("障害の経過の追加"),
}
