"""How the audit logs (the city's and the vendor's) name support access's actions."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

LABELS: dict[str, Any] = {
    "support.granted": _("サポートアクセスの許可"),
    "support.ended": _("サポートアクセスの終了"),
    "support.entered": _("サポートアクセスの開始"),
    "support.refused": _("サポートアクセスの拒否"),
    "support.used": _("サポートアクセスでの閲覧"),
}
