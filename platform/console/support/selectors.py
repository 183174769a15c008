"""Reads of support access: active grants, the grants each side sees, vendor users a city may pick, their uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django_tenants.utils import schema_context

from apps.security.audit import AuditFilters, audit_events
from apps.security.audit_models import AuditEvent
from console.access import VendorRole, group_name
from console.support.models import SupportGrant

USED = "support.used"


def _active(now: datetime) -> Q:
    return Q(ended_at__isnull=True, starts_at__lte=now, ends_at__gt=now)


def active_grant(municipality_id: int, vendor_user_id: int, now: datetime) -> SupportGrant | None:
    """The grant of that city to that vendor user in force at `now` (the newest, if several), or None."""
    return (
        SupportGrant.objects.filter(_active(now), municipality_id=municipality_id, grantee_id=vendor_user_id)
        .order_by("-starts_at", "-pk")
        .first()
    )


def grant_in_force(*, grant_id: int, municipality_id: int, now: datetime) -> SupportGrant | None:
    """Grant `grant_id` if it belongs to that city and is in force at `now` (checked on every support request)."""
    return SupportGrant.objects.filter(_active(now), pk=grant_id, municipality_id=municipality_id).first()


def grants_of_city(*, municipality_id: int) -> QuerySet[SupportGrant]:
    """Every grant of one city, newest first (the city's page; another city's never appear)."""
    return SupportGrant.objects.filter(municipality_id=municipality_id).order_by("-starts_at", "-pk")


def grants_to_vendor_user(*, vendor_user_id: int) -> QuerySet[SupportGrant]:
    """The grants made to one vendor user, newest first, with their city (the console's page)."""
    return (
        SupportGrant.objects.filter(grantee_id=vendor_user_id)
        .select_related("municipality")
        .order_by("-starts_at", "-pk")
    )


@dataclass(frozen=True)
class VendorUser:
    id: int
    username: str
    display_name: str


_SUPPORT_GROUPS = [group_name(role) for role in VendorRole]


def _candidates() -> QuerySet[Any]:
    return (
        get_user_model()
        .objects.filter(Q(is_superuser=True) | Q(groups__name__in=_SUPPORT_GROUPS), is_active=True)
        .distinct()
        .order_by("username")
    )


def _vendor_user(user: Any) -> VendorUser:
    return VendorUser(user.pk, user.get_username(), getattr(user, "display_name", ""))


def support_candidates() -> list[VendorUser]:
    """The vendor's users a city may grant access to: active, with the support role or above (or superusers).

    Read in the public schema whatever schema the caller is in (users exist per schema)."""
    with schema_context("public"):
        return [_vendor_user(user) for user in _candidates()]


def support_candidate(vendor_user_id: int) -> VendorUser | None:
    """That vendor user, if still one a city may grant access to (checked again at every entry)."""
    with schema_context("public"):
        user = _candidates().filter(pk=vendor_user_id).first()
        return None if user is None else _vendor_user(user)


def grant_uses(grant_ids: list[int]) -> dict[int, list[AuditEvent]]:
    """Each grant's uses from the current schema's audit log (the city's on its page, the vendor's on the console),
    oldest first."""
    targets = {f"SupportGrant:{pk}": pk for pk in grant_ids}
    uses: dict[int, list[AuditEvent]] = {pk: [] for pk in grant_ids}
    if not targets:
        return uses
    events = audit_events(AuditFilters(action=USED)).filter(target__in=list(targets)).order_by("sequence")
    for event in events:
        uses[targets[event.target]].append(event)
    return uses
