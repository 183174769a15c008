"""Writes of the card-list import (docs/card-import.md): upload, validate, confirm (apply), discard, clean up.

The file is read twice: once to validate and preview it (nothing written to the card list), and again when the
supervisor confirms, inside ONE transaction that writes every new card, change and event or none of them. Both
passes stream the file in chunks, so a 100,000-row file never sits in memory as model objects: new cards go in
with COPY, their `imported` events with one INSERT ... SELECT.

Small files are validated and applied in the request; files with more rows than
`settings.ISSUANCE_IMPORT_BACKGROUND_ROWS` in a Celery task (imports/tasks.py), with progress on the batch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.issuance.cards.services import settings_ensure
from apps.issuance.imports.csv_read import (
    COLUMN_BY_KEY,
    DATA_FIELDS,
    DEFAULT_MAPPING,
    CsvFileError,
    Layout,
    ParsedRow,
    Problem,
    check_not_binary,
    detect_encoding,
    is_blank,
    layout_for,
    parse_row,
    read_rows,
)
from apps.issuance.models import Card, CardEvent, CardState, ColumnMapping, EventKind, ImportBatch
from apps.security.audit import SYSTEM, audit_record
from apps.security.mynumber import FILE_NAME_MESSAGE
from apps.security.mynumber import MESSAGE as INDIVIDUAL_NUMBER_MESSAGE
from apps.security.roles import MANAGE_CARDS, ensure_permission
from base.japanese import kana_key
from base.mynumber import contains_individual_number, mask_individual_numbers
from tenants.db import current_schema

logger = logging.getLogger(__name__)

CHUNK = 2000  # rows compared with the card list (and written) per query
ERRORS_KEPT = 1000  # problems kept on the batch for the preview; the count covers them all
CHANGES_KEPT = 1000
# Two-int advisory lock (first key) serialising the imports applied in one city: the second key is
# hashtext(current_schema()). audit.py uses 7_100_010 for the audit chain.
IMPORT_LOCK = 7_100_020
_STORED_NAME = re.compile(r"[0-9a-f]{32}\.csv")
_SCHEMA = re.compile(r"[a-z0-9_]+")
Status = ImportBatch.Status


def background_rows() -> int:
    """Files with more data rows than this are validated and applied by a Celery task."""
    return int(getattr(settings, "ISSUANCE_IMPORT_BACKGROUND_ROWS", 2000))


def max_bytes() -> int:
    return int(getattr(settings, "ISSUANCE_IMPORT_MAX_BYTES", 50 * 1024 * 1024))


class ImportBatchError(Exception):
    """A refused import step; the message is for the supervisor and already translated (a 4xx, never a 500)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- private storage --------------------------------------------------------------------------------------------


def private_dir(schema: str | None = None) -> Path:
    """The city's upload folder: under the data directory, outside MEDIA and STATIC, served by no URL."""
    schema = schema or current_schema()
    if not _SCHEMA.fullmatch(schema) or schema == "public":
        raise ValueError(f"not a city schema: {schema!r}")
    return Path(settings.DATA_DIR) / "private" / schema / "imports"


def stored_path(batch: ImportBatch, schema: str | None = None) -> Path:
    if not _STORED_NAME.fullmatch(batch.stored_name):
        raise ValueError("bad stored name")
    return private_dir(schema) / batch.stored_name


def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        logger.exception("could not delete the import file %s", path.name)


def _unlink_on_commit(path: Path) -> None:
    # After the commit: a rolled-back transaction must still find its file.
    transaction.on_commit(lambda: _unlink(path))


@dataclass
class _Saved:
    path: Path
    sha256: str
    size: int
    lines: int
    head: bytes


def _save(upload: UploadedFile) -> _Saved:
    directory = private_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{secrets.token_hex(16)}.csv"
    digest = hashlib.sha256()
    size = lines = 0
    head = b""
    last = b""
    limit = max_bytes()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        for chunk in upload.chunks():
            size += len(chunk)
            if size > limit:
                break
            if len(head) < 65536:
                head += chunk[: 65536 - len(head)]
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
            out.write(chunk)
    if size and last != b"\n":
        lines += 1
    return _Saved(path, digest.hexdigest(), size, lines, head)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --- upload -----------------------------------------------------------------------------------------------------


def _mapping_columns(mapping_id: int | None) -> dict[str, str]:
    if mapping_id is None:
        return dict(DEFAULT_MAPPING)
    mapping = ColumnMapping.objects.filter(pk=mapping_id).first()
    if mapping is None:
        raise ImportBatchError(_("選んだ列の対応が見つかりません。"))
    return {key: str(mapping.columns.get(key, "") or "") for key in COLUMN_BY_KEY}


def _check_file(saved: _Saved, mapping: dict[str, str]) -> str:
    """The encoding, after checking that the file is a text CSV whose headers fit the mapping."""
    if saved.size == 0:
        raise CsvFileError(_("ファイルが空です。"))
    check_not_binary(saved.head)
    encoding = detect_encoding(saved.path)
    rows = read_rows(saved.path, encoding)
    first = next(rows, None)
    if first is None or is_blank(first[1]):
        raise CsvFileError(_("1行目に見出しがありません。1行目を列の見出しにしてください。"))
    headers = first[1]
    if any(contains_individual_number(h) for h in headers):
        raise CsvFileError(str(INDIVIDUAL_NUMBER_MESSAGE))
    layout_for(headers, mapping)
    if not any(not is_blank(cells) for _line, cells in rows):
        raise CsvFileError(_("データの行がありません（見出しの行だけです）。"))
    return encoding


def import_name_refused(*, file_name: str, actor: Any, request: HttpRequest | None = None) -> None:
    """Record an upload refused because its file name holds a 個人番号 (the upload form refuses it before this
    service is called; the service refuses it again for other callers). Nothing is stored: the name is recorded
    with the number masked, like the other refused imports."""
    name = mask_individual_numbers(os.path.basename(file_name.replace("\\", "/")))[:255]
    audit_record(
        action="import.refused",
        request=request,
        actor=actor,
        target="ImportBatch",
        summary=f"{name}: {FILE_NAME_MESSAGE}"[:2000],
    )


def import_upload(
    *,
    upload: UploadedFile,
    mapping_id: int | None,
    actor: Any,
    request: HttpRequest | None = None,
) -> ImportBatch:
    """Keep the file in the city's private storage and validate it (in a task when it is large).

    Raises ImportBatchError for a file that cannot be imported at all; nothing is kept then. Nothing is written to the
    card list here: the preview shows what a confirm would do."""
    ensure_permission(actor, MANAGE_CARDS)
    file_name = os.path.basename((upload.name or "").replace("\\", "/"))[:255]
    if contains_individual_number(upload.name or ""):
        import_name_refused(file_name=upload.name or "", actor=actor, request=request)
        raise ImportBatchError(str(FILE_NAME_MESSAGE))
    if not file_name.lower().endswith((".csv", ".txt")):
        raise ImportBatchError(_("CSVファイル（拡張子 .csv）を選んでください。"))
    if upload.size is not None and upload.size > max_bytes():
        raise ImportBatchError(
            _("ファイルが大きすぎます（%(max)d MBまで）。") % {"max": max_bytes() // (1024 * 1024)}
        )
    mapping = _mapping_columns(mapping_id)
    saved = _save(upload)
    try:
        if saved.size > max_bytes():
            raise CsvFileError(
                _("ファイルが大きすぎます（%(max)d MBまで）。") % {"max": max_bytes() // (1024 * 1024)}
            )
        encoding = _check_file(saved, mapping)
    except CsvFileError as problem:
        _unlink(saved.path)
        audit_record(
            action="import.refused",
            request=request,
            actor=actor,
            target="ImportBatch",
            summary=f"{file_name}: {problem.message}"[:2000],
        )
        raise ImportBatchError(problem.message) from problem
    estimate = max(0, saved.lines - 1)
    background = estimate > background_rows()
    with transaction.atomic():
        batch = ImportBatch.objects.create(
            file_name=file_name,
            stored_name=saved.path.name,
            sha256=saved.sha256,
            size=saved.size,
            encoding=encoding,
            mapping=mapping,
            status=Status.VALIDATING,
            rows_total=estimate,
            uploaded_by=actor,
        )
        audit_record(
            action="import.uploaded",
            request=request,
            actor=actor,
            target=f"ImportBatch:{batch.pk}",
            summary=f"{file_name}（{encoding}、{saved.size} bytes）",
            after={"sha256": saved.sha256, "mapping": mapping, "background": background},
        )
        if background:
            from apps.issuance.imports.tasks import validate_import

            batch_id = batch.pk
            transaction.on_commit(lambda: validate_import.delay(batch_id))
    if not background:
        try:
            return import_validate(batch_id=batch.pk)
        except Exception:
            import_mark_failed(batch_id=batch.pk)  # never left "validating" for ever
            raise
    return batch


# --- reading the file against the card list ---------------------------------------------------------------------


@dataclass
class ScanResult:
    total: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    error_rows: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)


class _ApplyError(Exception):
    """The file no longer reads as it did in the preview: the apply is rolled back."""


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


class _Applier:
    """Writes one chunk at a time inside the apply's transaction."""

    def __init__(self, batch: ImportBatch, actor: Any, now: datetime) -> None:
        self.batch = batch
        self.now = now
        user = actor if getattr(actor, "is_authenticated", False) else None
        self.by_id = user.pk if user is not None else None
        label = (getattr(user, "display_name", "") or user.get_username()) if user is not None else "system"
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
                        "before": {f: _json(before) for f, before, _after in diff},
                        "after": {f: _json(after) for f, _before, after in diff},
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


def _change_json(row: ParsedRow, diff: list[tuple[str, Any, Any]]) -> dict[str, Any]:
    return {
        "line": row.line,
        "notice_number": row.notice_number,
        "fields": [[f, _json(before), _json(after)] for f, before, after in diff],
    }


def _scan(
    batch: ImportBatch,
    *,
    today: date,
    progress: Callable[[int], None] | None = None,
    applier: _Applier | None = None,
) -> ScanResult:
    """Read the whole file: validate every row and compare the valid ones with the card list, chunk by chunk.

    With an applier, new and changed rows are written as their chunk is compared, and the first problem raises
    _ApplyError (the caller's transaction then rolls everything back)."""
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
                result.changes.append(_change_json(row, diff))
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
                raise _ApplyError(_("%(line)d行目に誤りがあります。") % {"line": line})
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


# --- validate ---------------------------------------------------------------------------------------------------


def import_validate(*, batch_id: int, progress: bool = False) -> ImportBatch:
    """Validate a batch's file and keep the preview on the batch (counts, problems, changes); ready or invalid.

    Reads the card list only. With `progress`, `rows_done` is updated as the file is read (autocommit: the
    batch page sees it)."""
    batch = ImportBatch.objects.get(pk=batch_id)
    if batch.status != Status.VALIDATING:
        return batch

    def report(done: int) -> None:
        ImportBatch.objects.filter(pk=batch_id).update(rows_done=done)

    try:
        result = _scan(batch, today=timezone.localdate(), progress=report if progress else None)
    except CsvFileError as problem:
        batch.status = Status.INVALID
        batch.message = problem.message[:300]
        batch.finished_at = timezone.now()
        batch.save(update_fields=["status", "message", "finished_at"])
        return batch
    batch.status = Status.INVALID if result.error_rows else Status.READY
    batch.rows_total = batch.rows_done = result.total
    batch.rows_new = result.new
    batch.rows_changed = result.changed
    batch.rows_unchanged = result.unchanged
    batch.rows_error = result.error_rows
    batch.errors = result.errors
    batch.changes = result.changes
    if result.error_rows:
        batch.finished_at = timezone.now()
    batch.save()
    return batch


# --- confirm and apply ------------------------------------------------------------------------------------------


def _lock_imports() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", [IMPORT_LOCK])


def _apply(
    batch: ImportBatch, *, actor: Any, now: datetime, progress: Callable[[int], None] | None
) -> ScanResult:
    """Write the batch (inside the caller's transaction, which holds IMPORT_LOCK)."""
    path = stored_path(batch)
    if batch.file_deleted_at is not None or not path.exists():
        raise _ApplyError(_("取込ファイルが削除されています。もう一度アップロードしてください。"))
    if _sha256(path) != batch.sha256:
        raise _ApplyError(_("取込ファイルが確認時と異なります。もう一度アップロードしてください。"))
    return _scan(batch, today=timezone.localdate(now), progress=progress, applier=_Applier(batch, actor, now))


def _finish(
    batch: ImportBatch, result: ScanResult, *, actor: Any, request: HttpRequest | None, now: datetime
) -> None:
    batch.status = Status.DONE
    batch.rows_total = batch.rows_done = result.total
    batch.rows_new = result.new
    batch.rows_changed = result.changed
    batch.rows_unchanged = result.unchanged
    batch.rows_error = 0
    batch.finished_at = now
    batch.file_deleted_at = now
    batch.save()
    audit_record(
        action="import.applied",
        request=request,
        actor=actor,
        target=f"ImportBatch:{batch.pk}",
        summary=_("カード一覧の取込（新規 %(new)d件、変更 %(changed)d件、変更なし %(unchanged)d件）")
        % {"new": result.new, "changed": result.changed, "unchanged": result.unchanged},
        after={"new": result.new, "changed": result.changed, "unchanged": result.unchanged},
    )
    _unlink_on_commit(stored_path(batch))


@dataclass(frozen=True)
class ConfirmResult:
    batch: ImportBatch
    started: bool  # False: the batch was not waiting for a confirm (a second submit): nothing was done
    background: bool = False


def import_confirm(
    *, batch_id: int, actor: Any, request: HttpRequest | None = None, now: datetime | None = None
) -> ConfirmResult:
    """Apply a previewed batch. The batch row's lock makes a second confirm (double submit) a no-op.

    Small batches are applied here, in this transaction; large ones are handed to a task."""
    ensure_permission(actor, MANAGE_CARDS)
    now = now or timezone.now()
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None:
            raise ImportBatchError(_("取込が見つかりません。"))
        if batch.status != Status.READY:
            return ConfirmResult(batch, started=False)
        batch.confirmed_by = actor
        audit_record(
            action="import.confirmed",
            request=request,
            actor=actor,
            target=f"ImportBatch:{batch.pk}",
            summary=_("カード一覧の取込を確定（%(file)s）") % {"file": batch.file_name},
        )
        if batch.rows_total > background_rows():
            batch.status = Status.APPLYING
            batch.rows_done = 0
            batch.save(update_fields=["status", "rows_done", "confirmed_by"])
            from apps.issuance.imports.tasks import apply_import

            ids = (batch.pk, actor.pk)
            transaction.on_commit(lambda: apply_import.delay(*ids))
            return ConfirmResult(batch, started=True, background=True)
        _lock_imports()
        try:
            with transaction.atomic():
                result = _apply(batch, actor=actor, now=now, progress=None)
        except (_ApplyError, CsvFileError, DatabaseError) as exc:
            logger.warning("import %s could not be applied: %s", batch.pk, exc)
            message = (
                exc.message
                if isinstance(exc, CsvFileError)
                else str(exc)
                if isinstance(exc, _ApplyError)
                else ""
            )
            raise ImportBatchError(
                message
                or _("取込を完了できませんでした。カード一覧は変更していません。もう一度お試しください。")
            ) from exc
        _finish(batch, result, actor=actor, request=request, now=now)
    return ConfirmResult(batch, started=True)


class _SideProgress:
    """Writes rows_done through a second, autocommit connection: the apply's own transaction stays open until the
    end, and the batch page must see progress meanwhile. The apply does not touch the batch row until it is done,
    so the two never wait for each other."""

    def __init__(self, batch_id: int) -> None:
        self.batch_id = batch_id
        self.schema = current_schema()
        self.conn: Any = None

    def __call__(self, done: int) -> None:
        try:
            if self.conn is None:
                self.conn = connections.create_connection(DEFAULT_DB_ALIAS)
                self.conn.set_schema(self.schema)
            with self.conn.cursor() as cursor:
                cursor.execute(
                    "UPDATE issuance_importbatch SET rows_done = %s WHERE id = %s", [done, self.batch_id]
                )
        except DatabaseError:
            logger.warning("import %s: progress not recorded", self.batch_id, exc_info=True)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def import_apply(*, batch_id: int, actor_id: int | None, now: datetime | None = None) -> ImportBatch | None:
    """The background apply of a confirmed batch (tasks.apply_import): all of it in one transaction, or
    nothing and the batch marked failed. Runs once however often the task is delivered."""
    from apps.security.models import User

    now = now or timezone.now()
    progress = _SideProgress(batch_id)
    try:
        with transaction.atomic():
            _lock_imports()
            batch = ImportBatch.objects.filter(pk=batch_id).first()
            if batch is None or batch.status != Status.APPLYING:
                return batch
            actor: Any = User.objects.filter(pk=actor_id).first() if actor_id else None
            result = _apply(batch, actor=actor or SYSTEM, now=now, progress=progress)
            _finish(batch, result, actor=actor or SYSTEM, request=None, now=now)
    except (_ApplyError, CsvFileError, DatabaseError) as exc:
        logger.warning("import %s could not be applied: %s", batch_id, exc)
        message = (
            exc.message if isinstance(exc, CsvFileError) else str(exc) if isinstance(exc, _ApplyError) else ""
        )
        _fail(batch_id, message or _("取込を完了できませんでした。カード一覧は変更していません。"), now=now)
        return ImportBatch.objects.filter(pk=batch_id).first()
    finally:
        progress.close()
    if result.new >= background_rows():
        # Fresh planner statistics now, not when autovacuum next looks: the counter's searches right after a
        # large first import would otherwise be planned for the small table the statistics still describe.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE issuance_card")
    return batch


def _fail(batch_id: int, message: str, *, now: datetime) -> None:
    with transaction.atomic():
        updated = ImportBatch.objects.filter(
            pk=batch_id, status__in=[Status.VALIDATING, Status.APPLYING]
        ).update(status=Status.FAILED, message=message[:300], finished_at=now)
        if updated:
            audit_record(
                action="import.failed",
                actor=SYSTEM,
                target=f"ImportBatch:{batch_id}",
                summary=message[:2000],
            )


def import_mark_failed(*, batch_id: int, message: str = "") -> None:
    """A task ended with an unexpected error: say so on the batch instead of leaving it running forever."""
    _fail(
        batch_id, message or _("処理中に問題が起きました。カード一覧は変更していません。"), now=timezone.now()
    )


# --- discard and clean up ---------------------------------------------------------------------------------------


def import_discard(*, batch_id: int, actor: Any, request: HttpRequest | None = None) -> ImportBatch:
    """Give up a batch that was not applied; its file is deleted."""
    ensure_permission(actor, MANAGE_CARDS)
    now = timezone.now()
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None:
            raise ImportBatchError(_("取込が見つかりません。"))
        if batch.status not in (Status.READY, Status.INVALID, Status.FAILED):
            raise ImportBatchError(
                _("「%(status)s」の取込は取りやめられません。") % {"status": Status(batch.status).label}
            )
        batch.status = Status.DISCARDED
        batch.finished_at = now
        fields = ["status", "finished_at"]
        if batch.file_deleted_at is None:
            batch.file_deleted_at = now
            fields.append("file_deleted_at")
            _unlink_on_commit(stored_path(batch))
        batch.save(update_fields=fields)
        audit_record(
            action="import.discarded",
            request=request,
            actor=actor,
            target=f"ImportBatch:{batch.pk}",
            summary=_("カード一覧の取込を取りやめ（%(file)s）") % {"file": batch.file_name},
        )
    return batch


def import_files_cleanup(*, now: datetime | None = None) -> int:
    """Delete upload files that are no longer needed (in the current city): those of finished batches, and those
    of unfinished ones older than IssuanceSettings.upload_keep_days (a batch still waiting for a confirm is then
    discarded). Files in the folder that no batch owns go after the same number of days. Returns files deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings_ensure().upload_keep_days)
    deleted = 0
    finished = [Status.DONE, Status.DISCARDED]
    stale = [Status.READY, Status.INVALID, Status.FAILED]
    candidates = (
        ImportBatch.objects.filter(file_deleted_at__isnull=True)
        .exclude(stored_name="")
        .filter(status__in=[*finished, *stale])
        .values_list("pk", flat=True)
    )
    for batch_id in list(candidates):
        with transaction.atomic():
            batch = ImportBatch.objects.select_for_update().get(pk=batch_id)
            if batch.file_deleted_at is not None:
                continue
            if batch.status not in finished and not (batch.status in stale and batch.created_at < cutoff):
                continue
            fields = ["file_deleted_at"]
            batch.file_deleted_at = now
            if batch.status == Status.READY:
                batch.status = Status.DISCARDED
                batch.finished_at = now
                batch.message = _("ファイルの保管期限が過ぎたため取りやめました。")
                fields += ["status", "finished_at", "message"]
            batch.save(update_fields=fields)
            _unlink_on_commit(stored_path(batch))
            deleted += 1
    directory = private_dir()
    if directory.is_dir():
        owned = set(
            ImportBatch.objects.filter(file_deleted_at__isnull=True).values_list("stored_name", flat=True)
        )
        for path in directory.iterdir():
            if path.name in owned or not path.is_file():
                continue
            if datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.get_current_timezone()) < cutoff:
                _unlink(path)
                deleted += 1
    if deleted:
        audit_record(
            action="import.files_deleted",
            actor=SYSTEM,
            target="ImportBatch",
            summary=_("取込ファイルを削除（%(count)d件）") % {"count": deleted},
        )
    return deleted


# --- column mappings --------------------------------------------------------------------------------------------


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
