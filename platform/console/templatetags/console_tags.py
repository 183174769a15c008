"""`{% console_nav %}`: the console's menu for the signed-in user's role (console.nav)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from console.access import vendor_role
from console.nav import nav_for

register = template.Library()


@register.inclusion_tag("console/_nav.html", takes_context=True)
def console_nav(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    role = getattr(request, "vendor_role", None) or vendor_role(user)
    current = getattr(request, "path", "")
    items = []
    for item in nav_for(role):
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:  # a feature's entry whose URLs are not routed yet
            continue
        active = current == url if url == reverse("console:home") else current.startswith(url)
        items.append({"label": item.label, "url": url, "current": active})
    return {"items": items, "role": role, "is_superuser": bool(getattr(user, "is_superuser", False))}
