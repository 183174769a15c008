"""The scan/apply engine: reads a stored file against the card list in chunks, collecting problems and changes
(the preview), and writes the same rows when a confirmed batch is applied. services.py and apply.py drive it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import connection
from django.utils.translation import gettext as _

from apps.issuance.cards.services import event_actor
from apps.issuance.imports.csv_read import (
    DATA_FIELDS,
    Layout,
    ParsedRow,
    Problem,
    is_blank,
    layout_for,
    parse_row,
    read_rows,
)
from apps.issuance.imports.storage import stored_path
from apps.issuance.models import Card, CardEvent, CardState, EventKind, ImportBatch
from apps.security.actors import Actor
from base.japanese import kana_key

CHUNK = 2000  # rows compared with the card list (and written) per query
ERRORS_KEPT = 1000  # problems kept on the batch for the preview; the count covers them all
CHANGES_KEPT = 1000


@dataclass
class ScanResult:
    total: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    error_rows: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)


class ApplyError(Exception):
    """The file no longer reads as it did in the preview: the apply is rolled back."""


def json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


class Applier:
    """Writes one chunk at a time inside the apply's transaction."""

    def __init__(self, batch: ImportBatch, actor: Actor, now: datetime) -> None:
        self.batch = batch
        self.now = now
        user, label = event_actor(actor)
        self.by_id = user.pk if user is not None else None
        self.by_label = label[:150]

    def add(self, rows: list[ParsedRow]) -> None:
        if not rows:
            return
        columns = (
            "notice_number, name, kana, kana_key, birth_date, postal_code, address, delivery_batch, "
            "delivery_date, application_kind, express, state, state_changed_at, disposal_method, cancel_reason, "
            "import_batch_id, created_at, updated_at"
        )
        with connection.cursor() as cursor, cursor.copy(f"COPY issuance_card ({columns}) FROM STDIN") as copy:
            for row in rows:
                v = row.values
                copy.write_row(
                    (
                        v["notice_number"],
                        v["name"],
                        v["kana"],
                        kana_key(v["kana"] or v["name"]),
                        v["birth_date"],
                        v["postal_code"],
                        v["address"],
                        v["delivery_batch"],
                        v["delivery_date"],
                        v["application_kind"],
                        v["express"],
                        CardState.DELIVERED,
                        self.now,
                        "",
                        "",
                        self.batch.pk,
                        self.now,
                        self.now,
                    )
                )

    def change(self, items: list[tuple[ParsedRow, dict[str, Any], list[tuple[str, Any, Any]]]]) -> None:
        if not items:
            return
        cards: list[Card] = []
        events: list[CardEvent] = []
        for row, known, diff in items:
            values = {f: row.values[f] for f in DATA_FIELDS}
            cards.append(
                Card(
                    pk=known["id"],
                    kana_key=kana_key(values["kana"] or values["name"]),
                    updated_at=self.now,
                    **values,
                )
            )
            events.append(
                CardEvent(
                    card_id=known["id"],
                    kind=EventKind.CHANGED,
                    from_state=known["state"],
                    to_state=known["state"],
                    at=self.now,
                    by_id=self.by_id,
                    by_label=self.by_label,
                    data={
                        "batch": self.batch.pk,
                        "line": row.line,
                        "before": {f: json_value(before) for f, before, _after in diff},
                        "after": {f: json_value(after) for f, _before, after in diff},
                    },
                )
            )
        Card.objects.bulk_update(cards, [*DATA_FIELDS, "kana_key", "updated_at"])
        CardEvent.objects.bulk_create(events)

    def finish(self) -> None:
        """One `imported` event per new card, written by the database from the cards this batch created."""
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO issuance_cardevent (card_id, kind, from_state, to_state, at, by_id, by_label, reason, "
                "data) SELECT id, %s, '', %s, %s, %s, %s, '', %s::jsonb FROM issuance_card WHERE import_batch_id = %s",
                [
                    EventKind.IMPORTED.value,
                    CardState.DELIVERED.value,
                    self.now,
                    self.by_id,
                    self.by_label,
                    json.dumps({"batch": self.batch.pk}),
                    self.batch.pk,
                ],
            )


def change_json(row: ParsedRow, diff: list[tuple[str, Any, Any]]) -> dict[str, Any]:
    return {
        "line": row.line,
        "notice_number": row.notice_number,
        "fields": [[f, json_value(before), json_value(after)] for f, before, after in diff],
    }


def scan_rows(
    batch: ImportBatch,
    *,
    today: date,
    progress: Callable[[int], None] | None = None,
    applier: Applier | None = None,
) -> ScanResult:
    """Read the whole file: validate every row and compare the valid ones with the card list, chunk by chunk.

    With an applier, new and changed rows are written as their chunk is compared, and the first problem raises
    ApplyError (the caller's transaction then rolls everything back)."""
    result = ScanResult()
    rows = read_rows(stored_path(batch), batch.encoding)
    _line, headers = next(rows)
    layout: Layout = layout_for(headers, batch.mapping)
    position = layout.positions["notice_number"]
    number_column = layout.headers[position]
    seen: dict[str, int] = {}
    chunk: list[ParsedRow] = []

    def flush() -> None:
        if not chunk:
            return
        existing = {
            card["notice_number"]: card
            for card in Card.objects.filter(notice_number__in=[r.notice_number for r in chunk]).values(
                "id", "state", "notice_number", *DATA_FIELDS
            )
        }
        new_rows: list[ParsedRow] = []
        changed: list[tuple[ParsedRow, dict[str, Any], list[tuple[str, Any, Any]]]] = []
        for row in chunk:
            known = existing.get(row.notice_number)
            if known is None:
                result.new += 1
                new_rows.append(row)
                continue
            diff = [(f, known[f], row.values[f]) for f in DATA_FIELDS if known[f] != row.values[f]]
            if not diff:
                result.unchanged += 1
                continue
            result.changed += 1
            changed.append((row, known, diff))
            if len(result.changes) < CHANGES_KEPT:
                result.changes.append(change_json(row, diff))
        if applier is not None:
            applier.add(new_rows)
            applier.change(changed)
        chunk.clear()

    for line, cells in rows:
        if is_blank(cells):
            continue
        result.total += 1
        row, problems = parse_row(line, cells, layout, today=today)
        number = row.values.get("notice_number")
        if number:
            first = seen.setdefault(number, line)
            if first != line:
                problems.append(Problem(line, number_column, "duplicate", {"number": number, "first": first}))
        if problems:
            if applier is not None:
                raise ApplyError(_("%(line)d行目に誤りがあります。") % {"line": line})
            result.error_rows += 1
            room = ERRORS_KEPT - len(result.errors)
            result.errors.extend(p.as_json() for p in problems[: max(0, room)])
        else:
            chunk.append(row)
            if len(chunk) >= CHUNK:
                flush()
        if progress is not None and result.total % CHUNK == 0:
            progress(result.total)
    flush()
    if applier is not None:
        applier.finish()
    return result
