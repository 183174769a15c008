"""Writes of the card-list import (docs/card-import.md): upload, validate, confirm (apply), discard, clean up.

The file is read twice: once to validate and preview it (nothing written to the card list), and again when the
supervisor confirms, inside ONE transaction that writes every new card, change and event or none of them. Both
passes stream the file in chunks, so a 100,000-row file never sits in memory as model objects: new cards go in
with COPY, their `imported` events with one INSERT ... SELECT.

Small files are validated and applied in the request; files with more rows than
`settings.ISSUANCE_IMPORT_BACKGROUND_ROWS` in a Celery task (imports/tasks.py), with progress on the batch. This
module is the batch's lifecycle as staff drive it; the write itself, in the request or in the task, is apply.py.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.issuance.cards.services import settings_ensure
from apps.issuance.imports.apply import (
    background_rows,
    batch_finish,
    batch_write,
    failure_message,
    import_mark_failed,
    lock_imports,
)
from apps.issuance.imports.csv_read import (
    COLUMN_BY_KEY,
    DEFAULT_MAPPING,
    CsvFileError,
    check_not_binary,
    detect_encoding,
    is_blank,
    layout_for,
    read_rows,
)
from apps.issuance.imports.engine import ApplyError, scan_rows
from apps.issuance.imports.storage import (
    ImportBatchError,
    SavedFile,
    UploadInfectedError,
    UploadNotScannedError,
    max_bytes,
    private_dir,
    save_upload,
    stored_path,
    unlink_file,
    unlink_on_commit,
)
from apps.issuance.models import ColumnMapping, ImportBatch
from apps.security.actors import SYSTEM, Actor
from apps.security.audit import audit_record
from apps.security.mynumber import FILE_NAME_MESSAGE
from apps.security.mynumber import MESSAGE as INDIVIDUAL_NUMBER_MESSAGE
from apps.security.roles import MANAGE_CARDS, ensure_permission
from base.mynumber import contains_individual_number, mask_individual_numbers
from base.scanning import SETTING as SCANNERS_SETTING
from base.scanning import ScannerUnavailableError, ScanTooLargeError, configured_scanners, scan_all
from base.tasks import enqueue

logger = logging.getLogger(__name__)

Status = ImportBatch.Status


# --- upload -----------------------------------------------------------------------------------------------------


def _not_started(batch_id: int) -> None:
    """The worker could not be reached (the broker is down): the batch says so at once instead of waiting for ever.
    Too long to run in the request; staff upload or confirm again later (base/tasks.py)."""
    import_mark_failed(
        batch_id=batch_id,
        message=_(
            "処理を開始できませんでした（一時的な障害）。カード一覧は変更していません。しばらくしてからもう一度お試しください。"
        ),
    )


def _mapping_columns(mapping_id: int | None) -> dict[str, str]:
    if mapping_id is None:
        return dict(DEFAULT_MAPPING)
    mapping = ColumnMapping.objects.filter(pk=mapping_id).first()
    if mapping is None:
        raise ImportBatchError(_("選んだ列の対応が見つかりません。"))
    return {key: str(mapping.columns.get(key, "") or "") for key in COLUMN_BY_KEY}


def _check_file(saved: SavedFile, mapping: dict[str, str]) -> str:
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


def import_name_refused(*, file_name: str, actor: Actor) -> None:
    """Record an upload refused because its file name holds a 個人番号 (the upload form refuses it before this
    service is called; the service refuses it again for other callers). Nothing is stored: the name is recorded
    with the number masked, like the other refused imports."""
    name = mask_individual_numbers(os.path.basename(file_name.replace("\\", "/")))[:255]
    audit_record(
        action="import.refused",
        actor=actor,
        target="ImportBatch",
        summary=f"{name}: {FILE_NAME_MESSAGE}"[:2000],
    )


def virus_scanning_on() -> bool:
    """Whether uploads are scanned (the upload page says so when they are not)."""
    return bool(configured_scanners())


def _upload_sha256(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    return digest.hexdigest()


def import_virus_check(*, upload: UploadedFile, file_name: str, actor: Actor) -> list[str]:
    """Every configured virus scanner's verdict on the upload, taken before anything is stored (base.scanning).

    A finding refuses the file (UploadInfectedError, audited as `security.upload_infected`, logged for the operators); a
    scanner that cannot answer refuses it too (UploadNotScannedError: fail closed, never "accepted unscanned because the
    daemon was down"). Without any scanner configured (development; secure mode refuses to start so) the file
    passes and the log says it was not scanned. Returns the verdicts as text, for the upload's audit row."""
    scanners = configured_scanners()
    if not scanners:
        logger.warning("upload %r not scanned for viruses: %s is not set", file_name, SCANNERS_SETTING)
        return []
    try:
        verdicts = scan_all(scanners, upload.chunks, file_name)
    except ScannerUnavailableError as problem:
        logger.error(
            "upload %r refused: virus scanner %s could not answer: %s",
            file_name,
            problem.scanner,
            problem.reason,
        )
        if isinstance(problem, ScanTooLargeError):
            message = _(
                "ファイルが大きすぎてウイルス検査ができないため、受け付けませんでした。ファイルを分けてください。"
            )
        else:
            message = _(
                "ウイルス検査ができないため、ファイルを受け付けませんでした。しばらくしてからもう一度お試しください。"
                "続くときはシステムの運営事業者に連絡してください。"
            )
        audit_record(
            action="import.refused",
            actor=actor,
            target="ImportBatch",
            summary=f"{file_name}: {message}（{problem}）"[:2000],
        )
        if isinstance(problem, ScanTooLargeError):
            raise ImportBatchError(message) from problem
        raise UploadNotScannedError(message) from problem
    found = [verdict for verdict in verdicts if verdict.infected]
    if found:
        sha256 = _upload_sha256(upload)
        logger.error(
            "upload %r refused: virus found by %s (sha256 %s, %s bytes); nothing stored",
            file_name,
            "; ".join(str(verdict) for verdict in found),
            sha256,
            upload.size,
        )
        audit_record(
            action="security.upload_infected",
            actor=actor,
            target="ImportBatch",
            summary=f"{file_name}: {'; '.join(str(verdict) for verdict in found)}"[:2000],
            after={"sha256": sha256, "size": upload.size, "verdicts": [str(verdict) for verdict in verdicts]},
        )
        raise UploadInfectedError(
            _(
                "ウイルスが見つかったため、このファイルは受け付けませんでした（%(signature)s）。ファイルは保存していません。"
                "情報システムの担当者に連絡してください。"
            )
            % {"signature": found[0].signature}
        )
    return [str(verdict) for verdict in verdicts]


def import_upload(
    *,
    upload: UploadedFile,
    mapping_id: int | None,
    actor: Actor,
) -> ImportBatch:
    """Keep the file in the city's private storage and validate it (in a task when it is large).

    Raises ImportBatchError for a file that cannot be imported at all; nothing is kept then. Nothing is written to the
    card list here: the preview shows what a confirm would do."""
    ensure_permission(actor, MANAGE_CARDS)
    file_name = os.path.basename((upload.name or "").replace("\\", "/"))[:255]
    if contains_individual_number(upload.name or ""):
        import_name_refused(file_name=upload.name or "", actor=actor)
        raise ImportBatchError(str(FILE_NAME_MESSAGE))
    if not file_name.lower().endswith((".csv", ".txt")):
        raise ImportBatchError(_("CSVファイル（拡張子 .csv）を選んでください。"))
    if upload.size is not None and upload.size > max_bytes():
        raise ImportBatchError(
            _("ファイルが大きすぎます（%(max)d MBまで）。") % {"max": max_bytes() // (1024 * 1024)}
        )
    mapping = _mapping_columns(mapping_id)
    verdicts = import_virus_check(upload=upload, file_name=file_name, actor=actor)
    saved = save_upload(upload)
    try:
        if saved.size > max_bytes():
            raise CsvFileError(
                _("ファイルが大きすぎます（%(max)d MBまで）。") % {"max": max_bytes() // (1024 * 1024)}
            )
        encoding = _check_file(saved, mapping)
    except CsvFileError as problem:
        unlink_file(saved.path)
        audit_record(
            action="import.refused",
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
            uploaded_by=actor.user,
        )
        audit_record(
            action="import.uploaded",
            actor=actor,
            target=f"ImportBatch:{batch.pk}",
            summary=f"{file_name}（{encoding}、{saved.size} bytes）",
            after={
                "sha256": saved.sha256,
                "mapping": mapping,
                "background": background,
                "virus_scan": verdicts or "not configured",
            },
        )
        if background:
            from apps.issuance.imports.tasks import validate_import

            batch_id = batch.pk
            transaction.on_commit(
                lambda: enqueue(validate_import, batch_id, fallback=lambda: _not_started(batch_id))
            )
    if not background:
        try:
            return import_validate(batch_id=batch.pk)
        except Exception:
            import_mark_failed(batch_id=batch.pk)  # never left "validating" for ever
            raise
    return batch


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
        result = scan_rows(batch, today=timezone.localdate(), progress=report if progress else None)
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


# --- confirm ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfirmResult:
    batch: ImportBatch
    started: bool  # False: the batch was not waiting for a confirm (a second submit): nothing was done
    background: bool = False


def import_confirm(*, batch_id: int, actor: Actor, now: datetime | None = None) -> ConfirmResult:
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
        batch.confirmed_by = actor.user
        audit_record(
            action="import.confirmed",
            actor=actor,
            target=f"ImportBatch:{batch.pk}",
            summary=_("カード一覧の取込を確定（%(file)s）") % {"file": batch.file_name},
        )
        if batch.rows_total > background_rows():
            batch.status = Status.APPLYING
            batch.rows_done = 0
            batch.save(update_fields=["status", "rows_done", "confirmed_by"])
            from apps.issuance.imports.tasks import apply_import

            # The task acts as who confirmed: a staff member by id, an API key by its prefix (it has no id).
            key_prefix = actor.api_key_prefix
            ids = (batch.pk, actor.id)
            transaction.on_commit(
                lambda: enqueue(
                    apply_import,
                    *ids,
                    api_key_prefix=key_prefix,
                    address=actor.address,
                    fallback=lambda: _not_started(ids[0]),
                )
            )
            return ConfirmResult(batch, started=True, background=True)
        lock_imports()
        try:
            with transaction.atomic():
                result = batch_write(batch, actor=actor, now=now, progress=None)
        except (ApplyError, CsvFileError, DatabaseError) as exc:
            logger.warning("import %s could not be applied: %s", batch.pk, exc)
            raise ImportBatchError(
                failure_message(exc)
                or _("取込を完了できませんでした。カード一覧は変更していません。もう一度お試しください。")
            ) from exc
        batch_finish(batch, result, actor=actor, now=now)
    return ConfirmResult(batch, started=True)


# --- discard and clean up ---------------------------------------------------------------------------------------


def import_discard(*, batch_id: int, actor: Actor) -> ImportBatch:
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
            unlink_on_commit(stored_path(batch))
        batch.save(update_fields=fields)
        audit_record(
            action="import.discarded",
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
            unlink_on_commit(stored_path(batch))
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
                unlink_file(path)
                deleted += 1
    if deleted:
        audit_record(
            action="import.files_deleted",
            actor=SYSTEM,
            target="ImportBatch",
            summary=_("取込ファイルを削除（%(count)d件）") % {"count": deleted},
        )
    return deleted
