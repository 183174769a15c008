"""Large files go through Celery tasks (run here as the project's tests run tasks: called in the city's schema)
with progress on the batch page; upload files live in private storage, never served, and are deleted after the
import and by the periodic cleanup."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.issuance.imports import apply, engine
from apps.issuance.imports import tasks as tasks_import
from apps.issuance.imports.storage import private_dir, stored_path
from apps.issuance.imports.tests.support import batch_id_of, csv_bytes, numbered_rows, upload
from apps.issuance.models import Card, CardEvent, EventKind, ImportBatch
from apps.security.models import Role, User
from tenants.models import Municipality
from tests.factories import role_client


@pytest.fixture(autouse=True)
def _private_data(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path
    settings.ISSUANCE_IMPORT_BACKGROUND_ROWS = 50


@pytest.fixture
def supervisor(city: Municipality) -> Client:
    return role_client(city, Role.SUPERVISOR)


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """The tasks sent, instead of sending them to the broker: (task name, args)."""
    sent: list[tuple[str, tuple[Any, ...]]] = []
    for task in (tasks_import.validate_import, tasks_import.apply_import, tasks_import.cleanup_import_files):
        monkeypatch.setattr(
            task,
            "delay",
            lambda *args, _name=task.name, **kwargs: sent.append((_name, args + tuple(kwargs.values()))),
        )
    return sent


def _batch(city: Municipality, batch_id: int) -> ImportBatch:
    with schema_context(city.schema_name):
        return ImportBatch.objects.get(pk=batch_id)


def test_a_large_file_is_validated_and_applied_in_the_background_with_progress(
    supervisor: Client,
    queued: list[tuple[str, tuple[Any, ...]]],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
    city: Municipality,
) -> None:
    monkeypatch.setattr(engine, "CHUNK", 50)
    reported: list[int] = []
    side_progress = apply._SideProgress.__call__

    def record(self: Any, done: int) -> None:
        reported.append(done)
        side_progress(self, done)

    monkeypatch.setattr(apply._SideProgress, "__call__", record)

    with django_capture_on_commit_callbacks(execute=True):
        batch_id = batch_id_of(upload(supervisor, csv_bytes(numbered_rows(120))))
    assert queued == [("apps.issuance.tasks_import.validate_import", (batch_id,))]
    page = supervisor.get(f"/staff/cards/import/{batch_id}/").content.decode()
    assert "ファイルを確認しています" in page
    assert "このページを再読み込みすると、進み具合が新しくなります。" in page
    assert "js/import-progress.js" in page
    progress = supervisor.get(f"/staff/cards/import/{batch_id}/progress/").json()
    assert progress == {
        "status": "validating",
        "status_label": "確認中",
        "rows_done": 0,
        "rows_total": 120,
        "running": True,
    }

    with schema_context(city.schema_name):
        assert tasks_import.validate_import(batch_id) == "ready"
    assert supervisor.get(f"/staff/cards/import/{batch_id}/progress/").json()["running"] is False
    assert (_batch(city, batch_id).rows_new, _batch(city, batch_id).rows_total) == (120, 120)

    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        supervisor.post(f"/staff/cards/import/{batch_id}/confirm/")
    supervisor_id = _batch(city, batch_id).confirmed_by_id
    assert queued == [
        ("apps.issuance.tasks_import.apply_import", (batch_id, supervisor_id, None, "127.0.0.1"))
    ]
    assert _batch(city, batch_id).status == ImportBatch.Status.APPLYING
    assert "取り込んでいます" in supervisor.get(f"/staff/cards/import/{batch_id}/").content.decode()
    with schema_context(city.schema_name):
        assert not Card.objects.exists()  # nothing until the task runs
        path = stored_path(_batch(city, batch_id))
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks_import.apply_import(batch_id, supervisor_id) == "done"
        assert Card.objects.count() == 120
        assert CardEvent.objects.filter(kind=EventKind.IMPORTED, by_id=supervisor_id).count() == 120
    assert reported == [50, 100]
    done = supervisor.get(f"/staff/cards/import/{batch_id}/progress/").json()
    assert (done["status"], done["rows_done"], done["rows_total"], done["running"]) == (
        "done",
        120,
        120,
        False,
    )
    assert not path.exists()
    assert _batch(city, batch_id).file_deleted_at is not None

    # The task delivered twice (acks late) does nothing the second time.
    with schema_context(city.schema_name):
        assert tasks_import.apply_import(batch_id, supervisor_id) == "done"
        assert Card.objects.count() == 120


def test_a_failing_background_apply_writes_nothing_and_says_so(
    supervisor: Client, queued: list[tuple[str, tuple[Any, ...]]], city: Municipality
) -> None:
    batch_id = batch_id_of(upload(supervisor, csv_bytes(numbered_rows(60))))
    with schema_context(city.schema_name):
        tasks_import.validate_import(batch_id)
    supervisor.post(f"/staff/cards/import/{batch_id}/confirm/")
    with schema_context(city.schema_name):
        stored_path(_batch(city, batch_id)).write_bytes(
            csv_bytes(numbered_rows(60, start=1))
        )  # changed behind our back
        assert tasks_import.apply_import(batch_id, None) == "failed"
        assert not Card.objects.exists()
    batch = _batch(city, batch_id)
    assert batch.status == ImportBatch.Status.FAILED
    assert "取込ファイルが確認時と異なります" in batch.message


def test_upload_files_are_private_and_served_by_no_url(
    supervisor: Client, city: Municipality, public_client: Client
) -> None:
    batch_id = batch_id_of(upload(supervisor, csv_bytes(numbered_rows(3))))
    with schema_context(city.schema_name):
        path = stored_path(_batch(city, batch_id))
    assert path.exists()
    assert path.parent == Path(django_settings.DATA_DIR) / "private" / "ageo" / "imports"
    assert os.stat(path).st_mode & 0o077 == 0  # readable by the service's own user only
    for public_root in [django_settings.STATIC_ROOT, *django_settings.STATICFILES_DIRS]:
        assert not path.resolve().is_relative_to(Path(public_root).resolve())
    name = path.name
    for client in (supervisor, public_client):
        for url in [
            f"/private/ageo/imports/{name}",
            f"/static/{name}",
            f"/static/../private/ageo/imports/{name}",
            f"/media/{name}",
            f"/media/private/ageo/imports/{name}",
            f"/staff/cards/import/{name}",
            f"/.data/private/ageo/imports/{name}",
        ]:
            response = client.get(url)
            assert response.status_code in (400, 404), (url, response.status_code)
            assert b"B2C-000000" not in b"".join(getattr(response, "streaming_content", [response.content]))


def test_the_file_is_deleted_when_the_import_is_done_or_discarded(
    supervisor: Client, django_capture_on_commit_callbacks: Any, city: Municipality
) -> None:
    done_id = batch_id_of(upload(supervisor, csv_bytes(numbered_rows(3))))
    discarded_id = batch_id_of(upload(supervisor, csv_bytes(numbered_rows(3, start=10))))
    with schema_context(city.schema_name):
        done_path, discarded_path = (
            stored_path(_batch(city, done_id)),
            stored_path(_batch(city, discarded_id)),
        )
    with django_capture_on_commit_callbacks(execute=True):
        supervisor.post(f"/staff/cards/import/{done_id}/confirm/")
        supervisor.post(f"/staff/cards/import/{discarded_id}/discard/")
    assert not done_path.exists()
    assert not discarded_path.exists()
    assert _batch(city, done_id).file_deleted_at is not None
    assert _batch(city, discarded_id).file_deleted_at is not None
    page = supervisor.get(f"/staff/cards/import/{done_id}/").content.decode()
    assert "に削除しました" in page


def test_the_periodic_cleanup_deletes_files_older_than_the_citys_setting(
    supervisor: Client, django_capture_on_commit_callbacks: Any, city: Municipality
) -> None:
    old_id = batch_id_of(upload(supervisor, csv_bytes(numbered_rows(3))))
    recent_id = batch_id_of(upload(supervisor, csv_bytes(numbered_rows(3, start=10))))
    with schema_context(city.schema_name):
        ImportBatch.objects.filter(pk=old_id).update(created_at=timezone.now() - timedelta(days=8))
        old_path, recent_path = stored_path(_batch(city, old_id)), stored_path(_batch(city, recent_id))
        stray_old = private_dir() / ("0" * 32 + ".csv")
        stray_old.write_bytes(b"x")
        eight_days_ago = time.time() - 8 * 86400
        os.utime(stray_old, (eight_days_ago, eight_days_ago))
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks_import.cleanup_import_files() == 2  # upload_keep_days defaults to 7
    assert not old_path.exists()
    assert not stray_old.exists()
    assert recent_path.exists()
    old = _batch(city, old_id)
    assert old.file_deleted_at is not None
    assert old.status == ImportBatch.Status.DISCARDED
    assert "ファイルの保管期限が過ぎた" in old.message
    assert _batch(city, recent_id).status == ImportBatch.Status.READY
    # A discarded batch can no longer be confirmed.
    supervisor.post(f"/staff/cards/import/{old_id}/confirm/")
    with schema_context(city.schema_name):
        assert not Card.objects.exists()


def test_the_cleanup_runs_in_every_city(
    city: Municipality,
    other_city: Municipality,
    queued: list[tuple[str, tuple[Any, ...]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schemas: list[str] = []
    monkeypatch.setattr(
        tasks_import.cleanup_import_files, "delay", lambda: schemas.append(connection.schema_name)
    )
    tasks_import.cleanup_import_files_everywhere()
    assert {"ageo", "okegawa"} <= set(schemas)


def test_another_city_cannot_see_a_running_batchs_progress(
    supervisor: Client, other_city: Municipality, queued: list[tuple[str, tuple[Any, ...]]]
) -> None:
    batch_id = batch_id_of(upload(supervisor, csv_bytes(numbered_rows(60))))
    other = role_client(other_city, Role.SUPERVISOR)
    assert other.get(f"/staff/cards/import/{batch_id}/progress/").status_code == 404
    with schema_context(other_city.schema_name):
        assert not User.objects.filter(username="ageo-supervisor").exists()
