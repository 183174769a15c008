"""Issue 10, item 6: a card-list file named after a 個人番号 (`123456789018.csv`) was stored and listed under that name.

Now the upload refuses it (400, a Japanese message, nothing stored), and the refusal is audited like the other
refused imports, with the number masked. The rule lives in `RefusesIndividualNumber` (every form's file fields) and
in the import service (for other callers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import schema_context

from apps.issuance.imports.services import import_upload
from apps.issuance.imports.storage import ImportBatchError, private_dir
from apps.issuance.imports.tests.support import card_row, csv_bytes, upload
from apps.issuance.models import ImportBatch
from apps.security.actors import as_actor
from apps.security.audit_models import AuditEvent
from apps.security.models import Role
from tenants.models import Municipality
from tests.factories import role_client, supervisor_user

MESSAGE = "ファイル名に個人番号（マイナンバー）が含まれています。"


@pytest.fixture(autouse=True)
def _private_data(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path


@pytest.fixture
def supervisor(city: Municipality) -> Client:
    return role_client(city, Role.SUPERVISOR)


def _stored_files(city: Municipality) -> list[Path]:
    with schema_context(city.schema_name):
        folder = private_dir()
    return list(folder.glob("*")) if folder.exists() else []


@pytest.mark.parametrize(
    ("name", "number"),
    [
        ("123456789018.csv", "123456789018"),
        ("カード一覧_1234-5678-9018.csv", "1234-5678-9018"),
        ("１２３４５６７８９０１８.csv", "１２３４５６７８９０１８"),
        ("C:\\Users\\窓口\\1234 5678 9018.csv", "1234 5678 9018"),
    ],
)
def test_a_file_named_after_a_number_is_refused_and_nothing_is_stored(
    supervisor: Client, name: str, number: str, city: Municipality
) -> None:
    response = upload(supervisor, csv_bytes([card_row("A1B-000001")]), name=name)
    assert response.status_code == 400
    body = response.content.decode()
    assert MESSAGE in body
    assert number not in body
    assert _stored_files(city) == []
    with schema_context(city.schema_name):
        assert not ImportBatch.objects.exists()
        refusal = AuditEvent.objects.filter(action="import.refused").get()
        assert "[個人番号]" in refusal.summary
        assert MESSAGE in refusal.summary
        assert not AuditEvent.objects.filter(summary__contains=number).exists()
        assert number not in str(list(AuditEvent.objects.values()))


def test_an_ordinary_file_name_still_imports(supervisor: Client, city: Municipality) -> None:
    response = upload(supervisor, csv_bytes([card_row("A1B-000001")]), name="cards-2026-11-1234567890180.csv")
    assert response.status_code == 302  # 13 digits: not a 個人番号
    with schema_context(city.schema_name):
        assert ImportBatch.objects.get().file_name == "cards-2026-11-1234567890180.csv"


def test_the_service_refuses_it_for_any_caller(city: Municipality) -> None:
    with schema_context(city.schema_name):
        boss = supervisor_user(username="import-boss")
        upload_file = SimpleUploadedFile("123456789018.csv", csv_bytes([card_row()]), content_type="text/csv")
        with pytest.raises(ImportBatchError) as refused:
            import_upload(upload=upload_file, mapping_id=None, actor=as_actor(boss))
        assert MESSAGE in refused.value.message
        assert not ImportBatch.objects.exists()
        assert AuditEvent.objects.filter(
            action="import.refused", summary__startswith="[個人番号].csv"
        ).exists()
    assert _stored_files(city) == []


def test_another_city_records_nothing(
    city: Municipality, other_city: Municipality, supervisor: Client
) -> None:
    upload(supervisor, csv_bytes([card_row()]), name="123456789018.csv")
    with schema_context(other_city.schema_name):
        assert not AuditEvent.objects.filter(action="import.refused").exists()
