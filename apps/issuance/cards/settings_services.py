"""Supervisors' writes on the issuance settings: the card policy, the identity documents and the proxy reasons.

Each write locks its row, validates, saves and is audited with before/after in the same transaction (as booking's
configuration is). Entries are deactivated, never deleted: past checklists name them.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models
from django.http import HttpRequest

from apps.issuance.cards.services import settings_ensure
from apps.issuance.models import IdentityDocument, IssuanceSettings, ProxyReason
from apps.security.audited import audited_save
from apps.security.roles import MANAGE_CARDS

SETTINGS_FIELDS = ["reminder_after_weeks", "retention_months", "upload_keep_days"]
DOCUMENT_FIELDS = ["kind", "name_ja", "name_en", "order", "active"]
REASON_FIELDS = ["name_ja", "name_en", "order", "active"]

M = TypeVar("M", bound=models.Model)


def _save(
    *,
    instance: M,
    fields: list[str],
    values: dict[str, Any],
    action: str,
    actor: Any,
    request: HttpRequest | None,
) -> M:
    return audited_save(
        instance=instance,
        fields=fields,
        values=values,
        action=action,
        permission=MANAGE_CARDS,
        actor=actor,
        request=request,
    )


def issuance_settings_update(
    *, values: dict[str, Any], actor: Any, request: HttpRequest | None = None
) -> IssuanceSettings:
    """Change the reminder weeks, retention months and upload keep days. Raises ValidationError if out of range."""
    return _save(
        instance=settings_ensure(),
        fields=SETTINGS_FIELDS,
        values=values,
        action="issuance.settings_changed",
        actor=actor,
        request=request,
    )


def identity_document_save(
    *, document_id: int | None, values: dict[str, Any], actor: Any, request: HttpRequest | None = None
) -> IdentityDocument:
    """Add (document_id None) or edit an identity document. Raises ValidationError (e.g. the same name twice)."""
    return _save(
        instance=IdentityDocument(pk=document_id) if document_id else IdentityDocument(),
        fields=DOCUMENT_FIELDS,
        values=values,
        action="issuance.document_saved",
        actor=actor,
        request=request,
    )


def identity_document_set_active(
    *, document_id: int, active: bool, actor: Any, request: HttpRequest | None = None
) -> IdentityDocument:
    """Stop offering a document at the counter (or offer it again); the row stays for past checklists."""
    return _save(
        instance=IdentityDocument(pk=document_id),
        fields=DOCUMENT_FIELDS,
        values={"active": active},
        action="issuance.document_saved",
        actor=actor,
        request=request,
    )


def proxy_reason_save(
    *, reason_id: int | None, values: dict[str, Any], actor: Any, request: HttpRequest | None = None
) -> ProxyReason:
    """Add (reason_id None) or edit a proxy reason. Raises ValidationError (e.g. the same name twice)."""
    return _save(
        instance=ProxyReason(pk=reason_id) if reason_id else ProxyReason(),
        fields=REASON_FIELDS,
        values=values,
        action="issuance.proxy_reason_saved",
        actor=actor,
        request=request,
    )


def proxy_reason_set_active(
    *, reason_id: int, active: bool, actor: Any, request: HttpRequest | None = None
) -> ProxyReason:
    """Stop offering a proxy reason at the counter (or offer it again); the row stays for past checklists."""
    return _save(
        instance=ProxyReason(pk=reason_id),
        fields=REASON_FIELDS,
        values={"active": active},
        action="issuance.proxy_reason_saved",
        actor=actor,
        request=request,
    )
