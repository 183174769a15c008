"""The audit log's CSV export: recorded as an event ("audit.exported"), then streamed in chunks."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from apps.security.actors import Actor
from apps.security.audit import JAPAN, AuditFilters, audit_events, audit_record
from apps.security.audit_models import ActorKind, AuditEvent
from base.downloads import csv_cell
from tenants.db import current_schema


class _Line:
    """csv.writer's file: hands back each written line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def audit_csv_lines(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """The events as CSV for Excel: UTF-8 with a BOM, CRLF line ends, Japanese headers, times in Japan."""
    writer = csv.writer(_Line())
    yield "\ufeff"
    yield writer.writerow(
        [
            _("連番"),
            _("日時"),
            _("操作者"),
            _("操作者の種別"),
            _("接続元アドレス"),
            _("操作"),
            _("操作コード"),
            _("対象"),
            _("内容"),
            _("変更前"),
            _("変更後"),
            _("リクエストID"),
        ]
    )
    kinds = dict(ActorKind.choices)
    for event in events.iterator(chunk_size=2000):
        yield writer.writerow(
            [
                event.sequence,
                timezone.localtime(event.at, JAPAN).strftime("%Y-%m-%d %H:%M:%S"),
                csv_cell(event.actor_username),
                kinds.get(event.actor_kind, event.actor_kind),
                event.address,
                csv_cell(event.action_label),
                event.action,
                csv_cell(event.target),
                csv_cell(event.summary),
                csv_cell(_json_text(event.before)),
                csv_cell(_json_text(event.after)),
                event.request_id,
            ]
        )


def _json_text(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _describe(filters: AuditFilters) -> str:
    parts = [
        f"{name}={value}"
        for name, value in (
            ("from", filters.date_from),
            ("to", filters.date_to),
            ("action", filters.action),
            ("actor", filters.actor),
            ("address", filters.address),
        )
        if value
    ]
    return ", ".join(parts) or "-"


def audit_export(*, actor: Actor, filters: AuditFilters) -> Iterator[str]:
    """Record the export, then return its CSV lines (oldest first), read in chunks as they are sent."""
    audit_record(
        action="audit.exported",
        actor=actor,
        target="AuditEvent",
        # Stored text stays Japanese whatever the page's language: the log is one record for every reader.
        summary=f"監査ログをCSVで出力（条件: {_describe(filters)}）",
    )
    return _in_schema(current_schema(), audit_csv_lines(audit_events(filters).order_by("sequence")))


def _in_schema(schema: str, lines: Iterator[str]) -> Iterator[str]:
    # A streamed body is read after the middleware has returned: pin the schema it was asked in.
    with schema_context(schema):
        yield from lines
