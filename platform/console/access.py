"""Who may use the vendor console: vendor roles (support < operator < admin) and the `vendor_view` decorator.

Roles are Django groups in the public schema ("vendor-support", "vendor-operator", "vendor-admin"); a superuser
counts as admin. A console page needs, in this order: the vendor host (public schema), the vendor's networks, a
signed-in user, this session's second factor, and a role at least the page's. The middleware already refuses the
first three on every /console/ path (apps.security.middleware); the decorator checks them again so that a view
mounted elsewhere by mistake still refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from apps.security.mfa_session import session_passed_mfa
from apps.security.network import address_allowed, client_ip, vendor_networks
from apps.security.request_actor import request_actor
from tenants.db import current_schema


class VendorRole(models.TextChoices):
    SUPPORT = "support", gettext_lazy("サポート")
    OPERATOR = "operator", gettext_lazy("運用担当")
    ADMIN = "admin", pgettext_lazy("vendor role", "管理者")


_ORDER = (VendorRole.SUPPORT, VendorRole.OPERATOR, VendorRole.ADMIN)
GROUP_PREFIX = "vendor-"


def group_name(role: VendorRole) -> str:
    """The public schema's group that holds `role` ("vendor-support", ...)."""
    return f"{GROUP_PREFIX}{role.value}"


def role_rank(role: VendorRole | None) -> int:
    """0 for no role, then 1, 2, 3 from support to admin."""
    return 0 if role is None else _ORDER.index(role) + 1


def role_allows(role: VendorRole | None, min_role: VendorRole) -> bool:
    return role_rank(role) >= role_rank(min_role)


_CACHE_ATTR = "_madoguchi_vendor_role"


def vendor_role(user: Any) -> VendorRole | None:
    """The user's vendor role on the vendor host, or None (not signed in, inactive, a city's schema, no group).

    Cached on the user object for the request (one query for its groups)."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return None
    if current_schema() != "public":
        return None
    if user.is_superuser:
        return VendorRole.ADMIN
    if hasattr(user, _CACHE_ATTR):
        cached: VendorRole | None = getattr(user, _CACHE_ATTR)
        return cached
    names = set(user.groups.filter(name__startswith=GROUP_PREFIX).values_list("name", flat=True))
    found: VendorRole | None = None
    for role in _ORDER:
        if group_name(role) in names:
            found = role
    setattr(user, _CACHE_ATTR, found)
    return found


def forget_vendor_role(user: Any) -> None:
    """Drop the role cached on `user` (after its groups changed)."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponseBase])


def _refusal(request: HttpRequest, min_role: VendorRole) -> HttpResponseBase | None:
    if current_schema() != "public":
        raise Http404
    address = client_ip(request)
    if not address_allowed(address, vendor_networks()):
        return render(request, "errors/network_refused.html", {"address": address or _("不明")}, status=403)
    user = request.user
    if not user.is_authenticated:
        return HttpResponseRedirect(f"{settings.LOGIN_URL}?{urlencode({'next': request.get_full_path()})}")
    if not session_passed_mfa(request, user):
        return HttpResponseRedirect(
            f"{reverse('mfa_reauthenticate')}?{urlencode({'next': request.get_full_path()})}"
        )
    if not role_allows(vendor_role(user), min_role):
        raise PermissionDenied(_("この操作を行う権限がありません。"))
    return None


def vendor_view(min_role: VendorRole) -> Callable[[ViewFunc], ViewFunc]:
    """Console view decorator: the vendor host, the vendor's networks, signed in, the second factor, and a role at
    least `min_role`; else a login redirect, the network refusal page or a 403. Sets `request.actor` and
    `request.vendor_role`. The view's `required_vendor_role` names `min_role` for the route walk."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            refused = _refusal(request, min_role)
            if refused is not None:
                return refused
            request.actor = request_actor(request)  # type: ignore[attr-defined]
            request.vendor_role = vendor_role(request.user)  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        wrapped.required_vendor_role = min_role  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def ensure_vendor_role(actor: Any, min_role: VendorRole) -> None:
    """For services: raise PermissionDenied unless the actor's user holds at least `min_role`."""
    user = getattr(actor, "user", actor)
    if not role_allows(vendor_role(user), min_role):
        raise PermissionDenied(_("この操作を行う権限がありません。"))
