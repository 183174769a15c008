"""Writes of the maintenance windows: the vendor proposes and cancels (public schema's audit log), each city's
supervisor approves or rejects (the city's audit log). Mails go out once the write is committed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from apps.security.actors import Actor
from apps.security.audit import audit_record
from apps.security.audit_models import ActorKind
from apps.security.models import Role
from apps.security.mynumber import validate_no_individual_number
from apps.security.roles import user_roles
from console.maintenance import cache, tasks
from console.maintenance.models import MODULES, MaintenanceApproval, MaintenanceProposal
from tenants.db import current_schema
from tenants.models import Municipality

DEFAULT_NOTICE_DAYS = 7


def notice_days() -> int:
    """Days before a window its notice shows on the city's pages (setting MAINTENANCE_NOTICE_DAYS, default 7)."""
    return int(getattr(settings, "MAINTENANCE_NOTICE_DAYS", DEFAULT_NOTICE_DAYS))


@dataclass(frozen=True)
class ProposalInput:
    cities: Sequence[Municipality]
    modules: Sequence[str]
    window_start: datetime
    window_end: datetime
    title_ja: str
    body_ja: str
    title_en: str = ""
    body_en: str = ""


def _ensure_vendor(actor: Actor) -> None:
    if actor.kind not in (ActorKind.VENDOR, ActorKind.SYSTEM) or current_schema() != "public":
        raise PermissionDenied(_("この操作を行う権限がありません。"))


def _validate(data: ProposalInput, now: datetime) -> None:
    errors: dict[str, str] = {}
    if not data.cities:
        errors["cities"] = _("対象の市区町村を一つ以上選んでください。")
    if not data.modules or any(m not in MODULES for m in data.modules):
        errors["modules"] = _("対象の機能を一つ以上選んでください。")
    if data.window_end <= data.window_start:
        errors["window_end"] = _("終了は開始より後にしてください。")
    if data.window_start <= now:
        errors["window_start"] = _("開始は今より後にしてください（承認を得る時間が要ります）。")
    if errors:
        raise ValidationError(errors)
    for text in (data.title_ja, data.title_en, data.body_ja, data.body_en):
        validate_no_individual_number(text)


def maintenance_propose(actor: Actor, *, data: ProposalInput) -> MaintenanceProposal:
    """A window proposed to each city (all pending); each city's supervisors are mailed."""
    _ensure_vendor(actor)
    now = timezone.now()
    _validate(data, now)
    with transaction.atomic():
        proposal = MaintenanceProposal.objects.create(
            title_ja=data.title_ja,
            title_en=data.title_en,
            body_ja=data.body_ja,
            body_en=data.body_en,
            window_start=data.window_start,
            window_end=data.window_end,
            modules=sorted(set(data.modules), key=MODULES.index),
            starts_at=data.window_start - timedelta(days=notice_days()),
            ends_at=data.window_end,
            proposed_by=actor.user if actor.kind == ActorKind.VENDOR else None,
        )
        MaintenanceApproval.objects.bulk_create(
            MaintenanceApproval(proposal=proposal, municipality=city) for city in data.cities
        )
        audit_record(
            action="maintenance.proposed",
            actor=actor,
            target=f"maintenance:{proposal.pk}",
            summary=proposal.title_ja,
            after={
                "cities": sorted(c.slug for c in data.cities),
                "modules": proposal.modules,
                "start": proposal.window_start.isoformat(),
                "end": proposal.window_end.isoformat(),
            },
        )
        transaction.on_commit(lambda: tasks.send_proposed_later(proposal.pk), robust=True)
    return proposal


def maintenance_cancel(actor: Actor, *, proposal_id: int) -> MaintenanceProposal:
    """Cancel a window: it applies to no city from now on (the notice goes within the request)."""
    _ensure_vendor(actor)
    with transaction.atomic():
        proposal = MaintenanceProposal.objects.select_for_update().get(pk=proposal_id)
        if proposal.cancelled_at is None:
            proposal.cancelled_at = timezone.now()
            proposal.save(update_fields=["cancelled_at", "updated_at"])
            audit_record(
                action="maintenance.cancelled",
                actor=actor,
                target=f"maintenance:{proposal.pk}",
                summary=proposal.title_ja,
            )
        cities = list(proposal.cities.values_list("schema_name", "pk"))
    for schema_name, pk in cities:
        cache.forget(schema_name, pk)
    return proposal


def maintenance_decide(
    actor: Actor, *, municipality: Municipality, approval_id: int, approve: bool, comment: str = ""
) -> MaintenanceApproval:
    """The city's supervisor approves or rejects a window for this city (in the city's schema; audited there).

    A decision is taken only before the window begins (one not approved by then does not apply) and may be
    changed until then. Another city's row is never found."""
    if actor.kind != ActorKind.STAFF or Role.SUPERVISOR not in user_roles(actor.user):
        raise PermissionDenied(_("メンテナンスの承認は管理者だけが行えます。"))
    if current_schema() != municipality.schema_name:
        raise PermissionDenied(_("この操作を行う権限がありません。"))
    validate_no_individual_number(comment)
    now = timezone.now()
    # One transaction over both schemas (one connection): the answer and the city's audit event commit together.
    with transaction.atomic():
        with schema_context("public"):
            approval = (
                MaintenanceApproval.objects.select_for_update()
                .select_related("proposal")
                .filter(municipality=municipality, pk=approval_id)
                .first()
            )
            if approval is None:
                raise MaintenanceApproval.DoesNotExist
            proposal = approval.proposal
            if proposal.cancelled_at is not None:
                raise ValidationError(_("このメンテナンスは取り消されています。"))
            if proposal.window_start <= now:
                raise ValidationError(_("開始時刻を過ぎたメンテナンスには回答できません。"))
            before = approval.status
            approval.status = (
                MaintenanceApproval.Status.APPROVED if approve else MaintenanceApproval.Status.REJECTED
            )
            approval.decided_by_id = actor.id
            approval.decided_by_name = actor.username
            approval.decided_at = now
            approval.comment = comment.strip()
            approval.save()
        audit_record(  # in the city's schema: the city's own log
            action="maintenance.approved" if approve else "maintenance.rejected",
            actor=actor,
            target=f"maintenance:{proposal.pk}",
            summary=proposal.title_ja,
            before={"status": before},
            after={"status": approval.status, "comment": approval.comment},
        )
        cache.forget(municipality.schema_name, municipality.pk)
        transaction.on_commit(lambda: tasks.send_decided_later(approval.pk), robust=True)
    return approval
