"""Writes of incidents (console, operator and up): each one transaction, each audited in the public schema."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from apps.security.actors import Actor
from apps.security.audit import audit_record
from console.access import VendorRole, ensure_vendor_role
from console.availability.models import Incident, IncidentEntry
from tenants.models import Municipality


@dataclass(frozen=True)
class IncidentInput:
    title: str
    received_at: datetime
    received_via: str
    severity: str
    status: str
    municipality_ids: Sequence[int]
    modules: Sequence[str]
    cause: str = ""
    resolution: str = ""
    resolved_at: datetime | None = None


def _check(data: IncidentInput) -> None:
    if data.status == Incident.Status.RESOLVED and data.resolved_at is None:
        raise ValidationError({"resolved_at": _("解決した障害には解決日時を入れてください。")})
    if data.resolved_at is not None and data.resolved_at < data.received_at:
        raise ValidationError({"resolved_at": _("解決日時は受付日時より後にしてください。")})
    if not data.municipality_ids:
        raise ValidationError({"municipalities": _("影響を受けた自治体を選んでください。")})
    if not data.modules:
        raise ValidationError({"modules": _("影響を受けた機能を選んでください。")})


def _snapshot(incident: Incident) -> dict[str, object]:
    return {
        "title": incident.title,
        "received_at": incident.received_at.isoformat(),
        "received_via": incident.received_via,
        "severity": incident.severity,
        "status": incident.status,
        "cities": sorted(incident.municipalities.values_list("slug", flat=True)),
        "modules": list(incident.modules),
        "cause": incident.cause,
        "resolution": incident.resolution,
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
    }


def _fill(incident: Incident, data: IncidentInput) -> None:
    fields = asdict(data)
    fields.pop("municipality_ids")
    fields["modules"] = list(data.modules)
    for name, value in fields.items():
        setattr(incident, name, value)


def _save(
    actor: Actor, incident: Incident, data: IncidentInput, *, action: str, before: dict[str, object] | None
) -> None:
    """Fill, save, link the cities and audit one incident (inside the caller's transaction)."""
    _fill(incident, data)
    incident.save()
    incident.municipalities.set(Municipality.objects.filter(pk__in=data.municipality_ids))
    audit_record(
        action=action,
        actor=actor,
        target=f"incident:{incident.pk}",
        summary=incident.title,
        before=before,
        after=_snapshot(incident),
    )


def incident_record(actor: Actor, *, data: IncidentInput) -> Incident:
    """A new incident, for the cities and modules it affected."""
    ensure_vendor_role(actor, VendorRole.OPERATOR)
    _check(data)
    with transaction.atomic():
        incident = Incident(recorded_by=actor.user)
        _save(actor, incident, data, action="incident.recorded", before=None)
    return incident


def incident_update(actor: Actor, *, incident_id: int, data: IncidentInput) -> Incident:
    """Change what is known: status, cause, resolution, the cities and modules affected."""
    ensure_vendor_role(actor, VendorRole.OPERATOR)
    _check(data)
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        _save(actor, incident, data, action="incident.updated", before=_snapshot(incident))
    return incident


def incident_entry_add(actor: Actor, *, incident_id: int, at: datetime, text: str) -> IncidentEntry:
    """One line of the timeline (what happened or was done at `at`)."""
    ensure_vendor_role(actor, VendorRole.OPERATOR)
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        entry = IncidentEntry.objects.create(incident=incident, at=at, text=text, author_name=actor.username)
        audit_record(
            action="incident.entry_added",
            actor=actor,
            target=f"incident:{incident.pk}",
            summary=incident.title,
            after={"at": at.isoformat(), "text": text},
        )
    return entry
