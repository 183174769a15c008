"""Writing a confirmed batch into the card list (docs/card-import.md), the one step that changes cards.

`batch_write` and `batch_finish` run inside the confirm's transaction for a small file (services.import_confirm)
or in the Celery task for a large one (`import_apply`, tasks.apply_import), holding IMPORT_LOCK so one city applies
one import at a time. A task that cannot finish marks its batch failed (`import_mark_failed`): nothing of the card
list is changed then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.issuance.imports.csv_read import CsvFileError
from apps.issuance.imports.engine import Applier, ApplyError, ScanResult, scan_rows
from apps.issuance.imports.storage import file_sha256, stored_path, unlink_on_commit
from apps.issuance.models import ImportBatch
from apps.security.actors import SYSTEM, Actor
from apps.security.audit import audit_record
from tenants.db import current_schema

logger = logging.getLogger(__name__)

# Two-int advisory lock (first key) serialising the imports applied in one city: the second key is
# hashtext(current_schema()). audit.py uses 7_100_010 for the audit chain.
IMPORT_LOCK = 7_100_020
Status = ImportBatch.Status


def background_rows() -> int:
    """Files with more data rows than this are validated and applied by a Celery task."""
    return int(getattr(settings, "ISSUANCE_IMPORT_BACKGROUND_ROWS", 2000))


def lock_imports() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", [IMPORT_LOCK])


def batch_write(
    batch: ImportBatch, *, actor: Actor, now: datetime, progress: Callable[[int], None] | None
) -> ScanResult:
    """Write the batch (inside the caller's transaction, which holds IMPORT_LOCK)."""
    path = stored_path(batch)
    if batch.file_deleted_at is not None or not path.exists():
        raise ApplyError(_("取込ファイルが削除されています。もう一度アップロードしてください。"))
    if file_sha256(path) != batch.sha256:
        raise ApplyError(_("取込ファイルが確認時と異なります。もう一度アップロードしてください。"))
    return scan_rows(
        batch, today=timezone.localdate(now), progress=progress, applier=Applier(batch, actor, now)
    )


def batch_finish(batch: ImportBatch, result: ScanResult, *, actor: Actor, now: datetime) -> None:
    """The batch is done: its counts, the audit event, and its file deleted once the transaction commits."""
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
        actor=actor,
        target=f"ImportBatch:{batch.pk}",
        summary=_("カード一覧の取込（新規 %(new)d件、変更 %(changed)d件、変更なし %(unchanged)d件）")
        % {"new": result.new, "changed": result.changed, "unchanged": result.unchanged},
        after={"new": result.new, "changed": result.changed, "unchanged": result.unchanged},
    )
    unlink_on_commit(stored_path(batch))


def failure_message(exc: Exception) -> str:
    """What the staff may read of a failed apply: the file's problem, or nothing (a database error stays in the log)."""
    if isinstance(exc, CsvFileError):
        return exc.message
    return str(exc) if isinstance(exc, ApplyError) else ""


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


def _task_actor(actor_id: int | None, api_key_prefix: str | None = None, address: str = "") -> Actor:
    """Who confirmed: the supervisor (the task gets their id) or the API key (its prefix), or the system when they
    are gone."""
    from apps.security.models import ApiKey, User

    if api_key_prefix:
        key = ApiKey.objects.filter(prefix=api_key_prefix).first()
        return Actor.of_api_key(key, address=address) if key is not None else SYSTEM
    user = User.objects.filter(pk=actor_id).first() if actor_id else None
    return Actor.of_user(user, address=address) if user is not None else SYSTEM


def import_apply(
    *,
    batch_id: int,
    actor_id: int | None,
    api_key_prefix: str | None = None,
    address: str = "",
    now: datetime | None = None,
) -> ImportBatch | None:
    """The background apply of a confirmed batch (tasks.apply_import): all of it in one transaction, or
    nothing and the batch marked failed. Runs once however often the task is delivered."""
    now = now or timezone.now()
    progress = _SideProgress(batch_id)
    try:
        with transaction.atomic():
            lock_imports()
            batch = ImportBatch.objects.filter(pk=batch_id).first()
            if batch is None or batch.status != Status.APPLYING:
                return batch
            actor = _task_actor(actor_id, api_key_prefix, address)
            result = batch_write(batch, actor=actor, now=now, progress=progress)
            batch_finish(batch, result, actor=actor, now=now)
    except (ApplyError, CsvFileError, DatabaseError) as exc:
        logger.warning("import %s could not be applied: %s", batch_id, exc)
        message = failure_message(exc)
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
