"""What each role may do: the one place that maps roles to permissions (docs/security.md, permission matrix).

Views check with `require_permission`, services with `ensure_permission`; both read Django's permission system,
which the groups below are given by `roles_ensure` in every city.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from apps.security.actors import Actor
from apps.security.models import Role

MANAGE_SECURITY = "security.manage_security"
VIEW_AUDIT = "security.view_audit"
MANAGE_STAFF = "security.manage_staff"
USE_COUNTER = "security.use_counter"
# Booking's permissions, named here as strings: security must not import booking (booking depends on security).
CONFIGURE_BOOKING = "booking.configure_booking"
WORK_COUNTER = "booking.work_counter"
MANAGE_CARDS = "issuance.manage_cards"
ISSUE_CARDS = "issuance.issue_cards"
VIEW_REPORTS = "issuance.view_reports"

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.SUPERVISOR: frozenset(
        {
            MANAGE_SECURITY,
            VIEW_AUDIT,
            MANAGE_STAFF,
            USE_COUNTER,
            CONFIGURE_BOOKING,
            WORK_COUNTER,
            MANAGE_CARDS,
            ISSUE_CARDS,
            VIEW_REPORTS,
        }
    ),
    Role.STAFF: frozenset({USE_COUNTER, WORK_COUNTER, ISSUE_CARDS}),
    Role.AUDITOR: frozenset({VIEW_AUDIT, VIEW_REPORTS}),
}
# Roles that always need a second factor, whatever the city's policy says.
ALWAYS_MFA = frozenset({Role.SUPERVISOR, Role.AUDITOR})


def user_roles(user: Any) -> set[Role]:
    if not getattr(user, "is_authenticated", False):
        return set()
    names = {group.name for group in user.groups.all()}
    return {role for role in Role if role.value in names}


def ensure_permission(actor: Any, permission: str) -> None:
    """Raise PermissionDenied unless `actor` (an `Actor`, or a user) holds `permission` (services call this before
    writing)."""
    if isinstance(actor, Actor):
        allowed = actor.has_perm(permission)  # an API key's scopes count too (Actor.has_perm)
    else:
        allowed = getattr(actor, "is_authenticated", False) and actor.has_perm(permission)
    if not allowed:
        raise PermissionDenied(_("この操作を行う権限がありません。"))


ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponseBase])


def require_permission(permission: str) -> Callable[[ViewFunc], ViewFunc]:
    """Staff view decorator: anonymous users go to the login page, others without the permission get 403."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect(f"/accounts/login/?next={request.path}")
            ensure_permission(request.user, permission)
            return view(request, *args, **kwargs)

        wrapped.required_permission = permission  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator
