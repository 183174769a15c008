"""Saved column mappings: a city's own file layout (column names) for the card import, kept by name."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from apps.issuance.imports.csv_read import COLUMN_BY_KEY
from apps.issuance.imports.storage import ImportBatchError
from apps.issuance.models import ColumnMapping
from apps.security.actors import Actor
from apps.security.audit import audit_record
from apps.security.roles import MANAGE_CARDS, ensure_permission


def column_mapping_save(
    *,
    mapping_id: int | None,
    name: str,
    columns: dict[str, str],
    actor: Actor,
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
            actor=actor,
            target=f"ColumnMapping:{mapping.pk}",
            summary=_("列の対応「%(name)s」を保存") % {"name": mapping.name},
            before=before,
            after=clean,
        )
    return mapping


def column_mapping_delete(*, mapping_id: int, actor: Actor) -> None:
    ensure_permission(actor, MANAGE_CARDS)
    with transaction.atomic():
        mapping = ColumnMapping.objects.select_for_update().filter(pk=mapping_id).first()
        if mapping is None:
            raise ImportBatchError(_("列の対応が見つかりません。"))
        audit_record(
            action="import.mapping_deleted",
            actor=actor,
            target=f"ColumnMapping:{mapping.pk}",
            summary=_("列の対応「%(name)s」を削除") % {"name": mapping.name},
            before=dict(mapping.columns),
        )
        mapping.delete()
