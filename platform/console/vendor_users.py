"""The vendor's own users and their console roles (groups in the public schema): selectors and services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from apps.security.actors import Actor
from apps.security.audit import audit_record
from apps.security.models import User
from apps.security.roles import VIEW_AUDIT
from console.access import (
    GROUP_PREFIX,
    VendorRole,
    ensure_vendor_role,
    forget_vendor_role,
    group_name,
    vendor_role,
)
from tenants.db import use_public_schema

# What each role may do outside the console's own pages, as Django permissions (the vendor's audit log).
ROLE_PERMISSIONS: dict[VendorRole, tuple[str, ...]] = {
    VendorRole.SUPPORT: (),
    VendorRole.OPERATOR: (VIEW_AUDIT,),
    VendorRole.ADMIN: (VIEW_AUDIT,),
}


def vendor_groups_ensure() -> dict[VendorRole, Group]:
    """The three role groups in the public schema, with their permissions. Idempotent."""
    use_public_schema()
    groups = {}
    for role in VendorRole:
        group, _created = Group.objects.get_or_create(name=group_name(role))
        wanted: list[Permission] = []
        for name in ROLE_PERMISSIONS[role]:
            app_label, codename = name.split(".")
            wanted.extend(Permission.objects.filter(content_type__app_label=app_label, codename=codename))
        group.permissions.set(wanted)
        groups[role] = group
    return groups


@dataclass(frozen=True)
class VendorUserRow:
    id: int
    username: str
    email: str
    is_superuser: bool
    is_active: bool
    role: VendorRole | None


def vendor_user_list(actor: Actor) -> list[VendorUserRow]:
    """Every account of the vendor host with its console role (a handful of people: no pagination)."""
    ensure_vendor_role(actor, VendorRole.ADMIN)
    users = User.objects.order_by("username").prefetch_related("groups")
    rows = []
    for user in users:
        names = {g.name for g in user.groups.all() if g.name.startswith(GROUP_PREFIX)}
        held = [candidate for candidate in VendorRole if group_name(candidate) in names]
        role = VendorRole.ADMIN if user.is_superuser else (held[-1] if held else None)
        rows.append(
            VendorUserRow(user.pk, user.username, user.email, user.is_superuser, user.is_active, role)
        )
    return rows


def vendor_role_set(actor: Actor, *, user_id: int, role: VendorRole | None) -> User:
    """Give the vendor user `user_id` the console role `role` (None: no role), audited.

    Refused: a superuser (always admin, changed in Django admin only) and one's own account (no one locks
    themselves out or raises themselves)."""
    ensure_vendor_role(actor, VendorRole.ADMIN)
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise ValidationError(_("該当する利用者がいません。"))
    if user.is_superuser:
        raise ValidationError(_("スーパーユーザーの役割は変更できません（常に管理者です）。"))
    if user.pk == actor.id:
        raise ValidationError(_("自分自身の役割は変更できません。"))
    groups = vendor_groups_ensure()
    before = vendor_role(user)
    with transaction.atomic():
        user.groups.remove(*groups.values())
        if role is not None:
            user.groups.add(groups[role])
        forget_vendor_role(user)
        audit_record(
            action="console.vendor_role_changed",
            actor=actor,
            target=f"user:{user.username}",
            summary=_("%(name)s の役割: %(before)s → %(after)s")
            % {"name": user.username, "before": _label(before), "after": _label(role)},
            before={"role": before.value if before else None},
            after={"role": role.value if role else None},
        )
    return user


def _label(role: Any) -> str:
    return str(role.label) if role is not None else _("役割なし")
