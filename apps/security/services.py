from __future__ import annotations

import ipaddress
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils.translation import gettext as _

from apps.security.actors import Actor
from apps.security.audit import audit_record
from apps.security.audit_models import ActorKind
from apps.security.models import AllowedNetwork, Role, SecurityPolicy, User, normalise_network
from apps.security.network import address_allowed, forget_allowed_networks
from apps.security.policy import forget_policy
from apps.security.roles import MANAGE_SECURITY, MANAGE_STAFF, ROLE_PERMISSIONS, ensure_permission


def roles_ensure() -> None:
    """Create the city's role groups with their permissions in the current schema. Idempotent."""
    for role in Role:
        group, _created = Group.objects.get_or_create(name=role.value)
        query = Q(pk__in=[])
        for name in ROLE_PERMISSIONS[role]:
            app_label, codename = name.split(".", 1)
            query |= Q(content_type__app_label=app_label, codename=codename)
        group.permissions.set(Permission.objects.filter(query))


def policy_ensure() -> SecurityPolicy:
    policy, _created = SecurityPolicy.objects.get_or_create(pk=1)
    return policy


def staff_user_ensure(
    *, username: str, email: str, password: str, role: Role, display_name: str = ""
) -> User:
    """Create or reset a staff account in the current schema with exactly one role (used by demo data)."""
    with transaction.atomic():
        user, _created = User.objects.get_or_create(username=username, defaults={"email": email})
        user.email = email
        user.display_name = display_name
        user.is_active = True
        user.set_password(password)
        user.save()
        user.groups.set([Group.objects.get(name=role.value)])
    return user


def staff_invite(*, username: str, email: str, role: Role, display_name: str, actor: Actor) -> User:
    """A new staff account with no usable password: the invited person sets one through the password-reset mail
    (the caller sends it). Only the system (an operator's command, the vendor console) or a staff manager invites.
    Refuses an existing user name or e-mail address in this city."""
    if actor.kind != ActorKind.SYSTEM:
        ensure_permission(actor, MANAGE_STAFF)
    errors = {}
    if User.objects.filter(username=username).exists():
        errors["username"] = _("このユーザー名はすでに使われています。")
    if User.objects.filter(email__iexact=email).exists():
        errors["email"] = _("このメールアドレスはすでに登録されています。")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        user = User(username=username, email=email, display_name=display_name, is_active=True)
        user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save()
        user.groups.set([Group.objects.get(name=role.value)])
        audit_record(
            action="staff.invited",
            actor=actor,
            target=f"User:{user.pk}",
            summary=_("%(role)s「%(username)s」を招待しました。")
            % {"role": role.label, "username": username},
            after={"username": username, "role": role.value},
        )
    return user


class SelfExclusionError(Exception):
    """Saving would lock out the supervisor who is saving; it needs an explicit confirmation."""


def _network_snapshot() -> list[str]:
    return list(AllowedNetwork.objects.order_by("cidr").values_list("cidr", flat=True))


def _ensure_may_manage_networks(actor: Actor) -> None:
    # A command or the demo data (the system) sets a new city's first range, before anyone can sign in.
    if actor.kind != ActorKind.SYSTEM:
        ensure_permission(actor, MANAGE_SECURITY)


def _network_audit(*, action: str, actor: Actor, network: AllowedNetwork, pk: int, before: list[str]) -> None:
    audit_record(
        action=action,
        actor=actor,
        target=f"AllowedNetwork:{pk}",
        summary=f"{network.cidr} {network.label}",
        before={"networks": before},
        after={"networks": _network_snapshot()},
    )


def network_add(*, cidr: str, label: str, actor: Actor) -> AllowedNetwork:
    """Allow staff access from a range. Raises ValidationError on a bad or duplicate range."""
    _ensure_may_manage_networks(actor)
    try:
        network = AllowedNetwork(cidr=normalise_network(cidr), label=label.strip())
    except ValidationError as exc:
        raise ValidationError({"cidr": exc.messages}) from exc
    network.full_clean()
    with transaction.atomic():
        before = _network_snapshot()
        network.save()
        _network_audit(action="network.added", actor=actor, network=network, pk=network.pk, before=before)
    forget_allowed_networks()
    return network


def network_remove(*, network_id: int, actor: Actor, confirm_self_exclusion: bool = False) -> None:
    """Remove a range. If the actor's own address would no longer be allowed, only with confirmation."""
    _ensure_may_manage_networks(actor)
    with transaction.atomic():
        network = AllowedNetwork.objects.select_for_update().get(pk=network_id)
        remaining = [
            ipaddress.ip_network(c, strict=False)
            for c in AllowedNetwork.objects.exclude(pk=network.pk).values_list("cidr", flat=True)
        ]
        address = actor.address
        if address and not confirm_self_exclusion and not address_allowed(address, remaining):
            raise SelfExclusionError(address)
        before = _network_snapshot()
        network.delete()
        _network_audit(action="network.removed", actor=actor, network=network, pk=network_id, before=before)
    forget_allowed_networks()


POLICY_FIELDS = ("mfa_required_for_staff", "idle_timeout_minutes", "absolute_timeout_hours")


def policy_update(*, actor: Actor, values: dict[str, Any]) -> SecurityPolicy:
    ensure_permission(actor, MANAGE_SECURITY)
    with transaction.atomic():
        policy = policy_ensure()
        policy = SecurityPolicy.objects.select_for_update().get(pk=policy.pk)
        before = {field: getattr(policy, field) for field in POLICY_FIELDS}
        for field in POLICY_FIELDS:
            setattr(policy, field, values[field])
        policy.full_clean()
        policy.save()
        after = {field: getattr(policy, field) for field in POLICY_FIELDS}
        audit_record(
            action="policy.changed",
            actor=actor,
            target="SecurityPolicy:1",
            before=before,
            after=after,
        )
    forget_policy()
    return policy


def sessions_revoke(*, actor: Actor) -> None:
    """Log the actor's user out on every device: every session made before now stops working."""
    user = actor.user
    if user is None or not actor.is_authenticated:
        raise PermissionDenied(_("この操作を行う権限がありません。"))
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
        audit_record(action="auth.logout_everywhere", actor=actor, target=f"User:{user.pk}")
    user.refresh_from_db(fields=["session_epoch"])
