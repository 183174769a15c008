"""The console's menu: one entry per feature, each shown to the roles that may open it.

A feature adds ONE `NavItem` to NAV (label, URL name, the least role that may open it); console/base.html shows
the entries the signed-in user's role allows (console.templatetags.console_tags).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from console.access import VendorRole, role_allows


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    min_role: VendorRole


NAV: list[NavItem] = [
    NavItem(_("ホーム"), "console:home", VendorRole.SUPPORT),
    NavItem(_("自治体"), "console:cities:list", VendorRole.SUPPORT),
    NavItem(_("運営者ユーザーの役割"), "console:vendor_users", VendorRole.ADMIN),
    NavItem(_("メンテナンス"), "console:maintenance:list", VendorRole.SUPPORT),
    NavItem(_("稼働状況と障害"), "console:availability:report", VendorRole.SUPPORT),
    NavItem(_("サポートアクセス"), "console:support:grants", VendorRole.SUPPORT),
]


def nav_for(role: VendorRole | None) -> list[NavItem]:
    return [item for item in NAV if role_allows(role, item.min_role)]
