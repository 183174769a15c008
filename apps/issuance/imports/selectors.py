"""Reads of the card-list import: batches, a batch's preview (problems and changes, in the reader's language),
its progress, and the saved column mappings. A page of changes shows residents' data: its read takes the `actor`
and records `personal_data.viewed`."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from apps.issuance.imports.csv_read import (
    COLUMN_BY_KEY,
    COLUMNS,
    DEFAULT_MAPPING,
    ENCODING_LABELS,
    message_text,
)
from apps.issuance.models import ColumnMapping, ImportBatch
from apps.security.actors import Actor
from apps.security.audit import audit_record

RUNNING = frozenset({ImportBatch.Status.VALIDATING, ImportBatch.Status.APPLYING})


def batches() -> QuerySet[ImportBatch]:
    """Newest first."""
    return ImportBatch.objects.select_related("uploaded_by").order_by("-created_at", "-pk")


def batch_get(batch_id: int) -> ImportBatch | None:
    return ImportBatch.objects.select_related("uploaded_by", "confirmed_by").filter(pk=batch_id).first()


def encoding_label(batch: ImportBatch) -> str:
    label = ENCODING_LABELS.get(batch.encoding)
    return str(label) if label is not None else batch.encoding


def batch_problems(batch: ImportBatch) -> list[dict[str, Any]]:
    """The kept problems, each with its message in the current language."""
    return [
        {
            "line": problem.get("line"),
            "column": problem.get("column", ""),
            "message": message_text(str(problem.get("code", "")), problem.get("params") or {}),
        }
        for problem in batch.errors
    ]


def _shown(field: str, value: Any) -> str:
    if field == "express":
        return _("特急") if value else _("通常")
    return "" if value is None else str(value)


def batch_changes(batch: ImportBatch) -> list[dict[str, Any]]:
    """The kept changes: notice number, line, and (label, before, after) per changed field."""
    out = []
    for change in batch.changes:
        fields = []
        for name, before, after in change.get("fields", []):
            column = COLUMN_BY_KEY.get(name)
            fields.append(
                {
                    "label": str(column.label) if column else name,
                    "before": _shown(name, before),
                    "after": _shown(name, after),
                }
            )
        out.append(
            {"line": change.get("line"), "notice_number": change.get("notice_number"), "fields": fields}
        )
    return out


def batch_changes_page(
    batch: ImportBatch, *, page_number: str | None, per_page: int, actor: Actor
) -> Page[dict[str, Any]]:
    """One page of `batch_changes` as shown to `actor`: recorded as a personal-data view when it shows any."""
    changes = Paginator(batch_changes(batch), per_page).get_page(page_number)
    if changes.object_list:
        audit_record(
            action="personal_data.viewed",
            actor=actor,
            target=f"ImportBatch:{batch.pk}",
            summary=_("カード一覧の取込の変更内容（%(count)d件）") % {"count": batch.rows_changed},
        )
    return changes


def batch_progress(batch: ImportBatch) -> dict[str, Any]:
    total = batch.rows_total
    done = min(batch.rows_done, total) if total else batch.rows_done
    return {
        "status": batch.status,
        "status_label": str(ImportBatch.Status(batch.status).label),
        "rows_done": done,
        "rows_total": total,
        "running": batch.status in RUNNING,
    }


def mappings() -> QuerySet[ColumnMapping]:
    return ColumnMapping.objects.order_by("name")


def mapping_rows(columns: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Each field with its documented header and the header a mapping gives it."""
    columns = columns or DEFAULT_MAPPING
    return [
        {
            "key": c.key,
            "label": str(c.label),
            "header": c.header,
            "mapped": columns.get(c.key, ""),
            "required": c.required,
        }
        for c in COLUMNS
    ]
