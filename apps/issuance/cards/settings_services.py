"""Supervisors' writes on the issuance settings: the card policy, the identity documents and the proxy reasons.

Each write locks its row, validates, saves and is audited with before/after in the same transaction (as booking's
configuration is). Entries are deactivated, never deleted: past checklists name them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apps.issuance.cards.services import settings_ensure
from apps.issuance.models import IdentityDocument, IssuanceSettings, ProxyReason
from apps.security.actors import Actor
from apps.security.audited import audited_save
from apps.security.roles import MANAGE_CARDS

SETTINGS_FIELDS = ["reminder_after_weeks", "retention_months", "upload_keep_days"]
DOCUMENT_FIELDS = ["kind", "name_ja", "name_en", "order", "active"]
REASON_FIELDS = ["name_ja", "name_en", "order", "active"]

Entry = IdentityDocument | ProxyReason


@dataclass(frozen=True)
class EntryList:
    """One of a city's lists the counter offers (identity documents, proxy reasons): its model, the fields the
    page edits and the audit action of a save."""

    model: type[IdentityDocument] | type[ProxyReason]
    fields: list[str]
    action: str


DOCUMENTS = EntryList(IdentityDocument, DOCUMENT_FIELDS, "issuance.document_saved")
REASONS = EntryList(ProxyReason, REASON_FIELDS, "issuance.proxy_reason_saved")


def issuance_settings_update(*, values: dict[str, Any], actor: Actor) -> IssuanceSettings:
    """Change the reminder weeks, retention months and upload keep days. Raises ValidationError if out of range."""
    return audited_save(
        instance=settings_ensure(),
        fields=SETTINGS_FIELDS,
        values=values,
        action="issuance.settings_changed",
        permission=MANAGE_CARDS,
        actor=actor,
    )


def entry_save(*, entries: EntryList, entry_id: int | None, values: dict[str, Any], actor: Actor) -> Entry:
    """Add (entry_id None) or edit an entry of `entries`. Raises ValidationError (e.g. the same name twice)."""
    return audited_save(
        instance=entries.model(pk=entry_id) if entry_id else entries.model(),
        fields=entries.fields,
        values=values,
        action=entries.action,
        permission=MANAGE_CARDS,
        actor=actor,
    )


def entry_set_active(*, entries: EntryList, entry_id: int, active: bool, actor: Actor) -> Entry:
    """Stop offering an entry at the counter (or offer it again); the row stays for past checklists."""
    return entry_save(entries=entries, entry_id=entry_id, values={"active": active}, actor=actor)
