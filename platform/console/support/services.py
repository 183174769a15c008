"""Writes of support access: a city's supervisor grants and ends; the vendor user enters through a one-time ticket.

Every step is written to both audit logs: the city's (the current schema, on the city's host) and the vendor's
(the public schema), so each side sees the grant and every use in its own log.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, NoReturn

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from apps.security.actors import Actor
from apps.security.audit import audit_record
from apps.security.audit_models import ActorKind
from apps.security.roles import MANAGE_SECURITY, ensure_permission
from base.mynumber import contains_individual_number
from console.access import VendorRole, ensure_vendor_role
from console.support.models import (
    MAX_DURATION,
    SCOPE_PERMISSIONS,
    TICKET_SECONDS,
    Scope,
    SupportGrant,
    SupportTicket,
)
from console.support.selectors import support_candidate
from tenants.db import current_schema

# The city's stand-in for a vendor user: "support.<vendor username>", no password, only its scope's group.
PROXY_PREFIX = "support."
PROXY_EMAIL_DOMAIN = "support.invalid"
SCOPE_GROUP_PREFIX = "support-"


class EntryRefusedError(Exception):
    """A ticket that does not open this city now; `reason` is kept in the city's audit log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _target(grant: SupportGrant) -> str:
    return f"SupportGrant:{grant.pk}"


def vendor_actor(grant: SupportGrant, like: Actor) -> Actor:
    """The grant's vendor user, with the address and request id of `like` (for the vendor's log)."""
    return replace(
        like, kind=ActorKind.VENDOR, username=grant.grantee_username, id=grant.grantee_id, user=None
    )


def _city_actor_for_vendor_log(actor: Actor, slug: str) -> Actor:
    """A city's staff member as the vendor's log shows them: the city's slug before the name (ids are per city)."""
    return replace(actor, username=f"{slug}/{actor.username}", id=None, user=None)


def _audit_both(
    *, action: str, city_actor: Actor, vendor_log_actor: Actor, grant: SupportGrant, summary: str
) -> None:
    audit_record(action=action, actor=city_actor, target=_target(grant), summary=summary)
    with schema_context("public"):
        audit_record(
            action=action,
            actor=vendor_log_actor,
            target=_target(grant),
            summary=f"{grant.municipality.slug}: {summary}",
        )


def grant_create(
    *,
    actor: Actor,
    municipality: Any,
    grantee_id: int,
    scope: str,
    reason: str,
    duration: timedelta,
    now: datetime,
) -> SupportGrant:
    """A city's supervisor lets one vendor user read `scope` from `now` for `duration` (at most MAX_DURATION)."""
    ensure_permission(actor, MANAGE_SECURITY)
    if current_schema() != municipality.schema_name:
        raise ValidationError(_("この自治体の画面からのみ許可できます。"))
    grantee = support_candidate(grantee_id)
    if grantee is None:
        raise ValidationError({"grantee": _("この担当者には許可できません。")})
    if scope not in Scope.values:
        raise ValidationError({"scope": _("範囲を選んでください。")})
    if not timedelta(0) < duration <= MAX_DURATION:
        raise ValidationError({"duration": _("期間は8時間までです。")})
    reason = reason.strip()
    if not reason or contains_individual_number(reason):
        raise ValidationError({"reason": _("理由を入力してください（個人番号は入力できません）。")})
    with transaction.atomic():
        grant = SupportGrant.objects.create(
            municipality=municipality,
            grantee_id=grantee.id,
            grantee_username=grantee.username,
            scope=scope,
            reason=reason[:500],
            starts_at=now,
            ends_at=now + duration,
            granted_by=actor.username,
        )
        summary = _("%(user)s に %(scope)s を %(end)s まで許可（理由: %(reason)s）") % {
            "user": grantee.username,
            "scope": grant.get_scope_display(),
            "end": f"{grant.ends_at:%Y-%m-%d %H:%M %Z}",
            "reason": grant.reason,
        }
        _audit_both(
            action="support.granted",
            city_actor=actor,
            vendor_log_actor=_city_actor_for_vendor_log(actor, municipality.slug),
            grant=grant,
            summary=summary,
        )
    return grant


def grant_end(*, actor: Actor, municipality: Any, grant_id: int, now: datetime) -> SupportGrant:
    """End a grant of this city early. Raises SupportGrant.DoesNotExist for another city's grant."""
    ensure_permission(actor, MANAGE_SECURITY)
    with transaction.atomic():
        grant = SupportGrant.objects.select_for_update().get(pk=grant_id, municipality=municipality)
        if not grant.is_active(now):
            raise ValidationError(_("このサポートアクセスはすでに終了しています。"))
        grant.ended_at = now
        grant.ended_by = actor.username
        grant.save(update_fields=["ended_at", "ended_by"])
        _audit_both(
            action="support.ended",
            city_actor=actor,
            vendor_log_actor=_city_actor_for_vendor_log(actor, municipality.slug),
            grant=grant,
            summary=_("%(user)s へのサポートアクセスを終了") % {"user": grant.grantee_username},
        )
    return grant


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ticket_issue(*, actor: Actor, grant_id: int, now: datetime) -> tuple[str, SupportGrant]:
    """A one-time token for the vendor user's own grant in force at `now`, valid TICKET_SECONDS (only its hash
    is stored). Raises SupportGrant.DoesNotExist for a grant not theirs or not in force."""
    ensure_vendor_role(actor, VendorRole.SUPPORT)
    if actor.id is None:
        raise SupportGrant.DoesNotExist
    grant = SupportGrant.objects.select_related("municipality").get(
        pk=grant_id, grantee_id=actor.id, ended_at__isnull=True, starts_at__lte=now, ends_at__gt=now
    )
    token = secrets.token_urlsafe(32)
    SupportTicket.objects.create(
        grant=grant, vendor_user_id=actor.id, token_hash=_token_hash(token), created_at=now
    )
    return token, grant


def _ticket_refusal(ticket: SupportTicket, municipality_id: int, now: datetime) -> str | None:
    grant = ticket.grant
    if now - ticket.created_at > timedelta(seconds=TICKET_SECONDS):
        return "expired"
    if grant.municipality_id != municipality_id:
        return "other_city"
    if grant.grantee_id != ticket.vendor_user_id or not grant.is_active(now):
        return "grant_not_in_force"
    if support_candidate(grant.grantee_id) is None:
        return "not_vendor_support"
    return None


def ticket_consume(*, actor: Actor, token: str, municipality_id: int, now: datetime) -> SupportGrant:
    """Use a ticket at a city's host: it is spent by any attempt, and opens only its grant's city while the grant is
    in force. Raises EntryRefusedError (recorded in the city's log)."""
    with transaction.atomic():
        ticket = (
            SupportTicket.objects.select_for_update()
            .select_related("grant__municipality")
            .filter(token_hash=_token_hash(token))
            .first()
        )
        if ticket is None:
            reason: str | None = "unknown"
        elif ticket.used_at is not None:
            reason = "used"
        else:
            ticket.used_at = now
            ticket.save(update_fields=["used_at"])
            reason = _ticket_refusal(ticket, municipality_id, now)
    if reason is not None:
        _refuse(actor, ticket.grant if ticket is not None else None, reason)
    assert ticket is not None
    return ticket.grant


def _refuse(actor: Actor, grant: SupportGrant | None, reason: str) -> NoReturn:
    audit_record(
        action="support.refused", actor=actor, target=_target(grant) if grant else "", summary=reason
    )
    raise EntryRefusedError(reason)


def proxy_username(vendor_username: str) -> str:
    return f"{PROXY_PREFIX}{vendor_username}"[:150]


def is_proxy_user(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.get_username().startswith(PROXY_PREFIX)
        and str(getattr(user, "email", "")).endswith(f"@{PROXY_EMAIL_DOMAIN}")
    )


def _scope_group(scope: str) -> Group:
    group, _created = Group.objects.get_or_create(name=f"{SCOPE_GROUP_PREFIX}{scope}")
    names = SCOPE_PERMISSIONS[scope]
    wanted = [
        Permission.objects.get(content_type__app_label=name.split(".")[0], codename=name.split(".")[1])
        for name in names
    ]
    group.permissions.set(wanted)
    return group


def _is_stand_in(user: Any, email: str) -> bool:
    return not (user.has_usable_password() or user.email != email or user.is_staff or user.is_superuser)


def proxy_user_for(*, actor: Actor, grant: SupportGrant) -> Any:
    """The city's stand-in user for the grant's vendor user (created on first entry), holding only the grant's scope.

    Refuses (EntryRefusedError, recorded) when a city account of that name exists that is not such a stand-in."""
    user_model = get_user_model()
    username = proxy_username(grant.grantee_username)
    email = f"{grant.grantee_id}@{PROXY_EMAIL_DOMAIN}"
    existing = user_model.objects.filter(username=username).first()
    if existing is not None and not _is_stand_in(existing, email):
        _refuse(actor, grant, "name_taken")
    with transaction.atomic():
        user, created = user_model.objects.select_for_update().get_or_create(
            username=username, defaults={"email": email, "display_name": _("運営事業者サポート")}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        elif not _is_stand_in(user, email):  # made meanwhile: refused all the same, recorded on the next try
            raise EntryRefusedError("name_taken")
        user.groups.set([_scope_group(grant.scope)])
        if not user.is_active:
            user.is_active = True
            user.save(update_fields=["is_active"])
    return user


def support_entered(*, actor: Actor, grant: SupportGrant) -> None:
    _audit_both(
        action="support.entered",
        city_actor=actor,
        vendor_log_actor=vendor_actor(grant, actor),
        grant=grant,
        summary=grant.get_scope_display(),
    )


def support_used(*, actor: Actor, grant: SupportGrant, path: str) -> None:
    """One page seen in a support session: the path only (a query may hold what was looked for)."""
    _audit_both(
        action="support.used",
        city_actor=actor,
        vendor_log_actor=vendor_actor(grant, actor),
        grant=grant,
        summary=path,
    )
