"""Saved column mappings: a city's own file layout (column names) for the card import, kept by name."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from apps.issuance.imports.csv_read import (
    COLUMN_BY_KEY,
)
from apps.issuance.imports.storage import ImportBatchError
from apps.issuance.models import ColumnMapping
from apps.security.audit import audit_record
from apps.security.roles import MANAGE_CARDS, ensure_permission


def column_mapping_save(
    *,
    mapping_id: int | None,
    name: str,
    columns: dict[str, str],
    actor: Any,
    request: HttpRequest | None = None,
) -> ColumnMapping:
    ensure_permission(actor, MANAGE_CARDS)
    clean = {key: (columns.get(key) or "").strip() for key in COLUMN_BY_KEY}
    with transaction.atomic():
        mapping = (
            ColumnMapping.objects.select_for_update().get(pk=mapping_id) if mapping_id else ColumnMapping()
        )
        before = dict(mapping.columns) if mapping_id else None
        mapping.name = name.strip()
        mapping.columns = clean
        mapping.save()
        audit_record(
            action="import.mapping_saved",
            request=request,
            actor=actor,
            target=f"ColumnMapping:{mapping.pk}",
            summary=_("列の対応「%(name)s」を保存") % {"name": mapping.name},
            before=before,
            after=clean,
        )
    return mapping


def column_mapping_delete(*, mapping_id: int, actor: Any, request: HttpRequest | None = None) -> None:
    ensure_permission(actor, MANAGE_CARDS)
    with transaction.atomic():
        mapping = ColumnMapping.objects.select_for_update().filter(pk=mapping_id).first()
        if mapping is None:
            raise ImportBatchError(_("列の対応が見つかりません。"))
        audit_record(
            action="import.mapping_deleted",
            request=request,
            actor=actor,
            target=f"ColumnMapping:{mapping.pk}",
            summary=_("列の対応「%(name)s」を削除") % {"name": mapping.name},
            before=dict(mapping.columns),
        )
        mapping.delete()
