"""The card-import API (issue 13, item 3): upload (multipart or a text/csv body) → a preview batch (202), poll it,
apply once (a second apply is 409 and adds nothing), discard; the upload page's checks and audit events, with the
key as actor; scopes and the other city."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import schema_context

from apps.issuance.imports import tasks as tasks_import
from apps.issuance.imports.tests.support import card_row, csv_bytes, numbered_rows
from apps.issuance.models import Card, CardEvent, EventKind, ImportBatch
from apps.security.audit_models import ActorKind, AuditEvent
from apps.security.models import ApiKey, ApiScope
from apps.security.tests.api_helpers import bearer, make_key, problem
from tenants.models import Municipality

IMPORTS = "/api/v1/card-imports/"
MY_NUMBER = "123456789018"


@pytest.fixture(autouse=True)
def _private_data(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path


@pytest.fixture
def key(city: Municipality) -> tuple[ApiKey, str]:
    return make_key(city, ApiScope.CARDS_READ, ApiScope.CARDS_WRITE, name="住民記録システム")


def batch_url(batch_id: int, action: str = "") -> str:
    return f"{IMPORTS}{batch_id}/" + (f"{action}/" if action else "")


def send(client: Client, token: str, content: bytes, name: str = "cards.csv", **data: Any) -> Any:
    file = SimpleUploadedFile(name, content, content_type="text/csv")
    return client.post(IMPORTS, {"file": file, **data}, **bearer(token))


def audited(city: Municipality, key: ApiKey, action: str) -> list[AuditEvent]:
    with schema_context(city.schema_name):
        return list(
            AuditEvent.objects.filter(
                action=action, actor_kind=ActorKind.API_KEY, actor_username__startswith=f"api:{key.prefix}"
            )
        )


def card_count(city: Municipality) -> int:
    with schema_context(city.schema_name):
        return Card.objects.count()


def test_preview_then_apply_creates_the_cards_once(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    uploaded = send(city_client, key[1], csv_bytes(numbered_rows(3)))
    assert uploaded.status_code == 202, uploaded.content
    batch = uploaded.json()
    assert uploaded["Location"].endswith(batch_url(batch["id"]))
    assert (batch["status"], batch["running"], batch["rows_new"], batch["rows_error"]) == (
        "ready",
        False,
        3,
        0,
    )
    assert card_count(city) == 0  # a preview writes nothing

    polled = city_client.get(batch_url(batch["id"]), **bearer(key[1]))
    assert polled.status_code == 200
    assert polled.json()["status"] == "ready"

    applied = city_client.post(batch_url(batch["id"], "apply"), **bearer(key[1]))
    assert applied.status_code == 200, applied.content
    assert applied.json()["status"] == "done"
    assert card_count(city) == 3
    with schema_context(city.schema_name):
        events = CardEvent.objects.filter(kind=EventKind.IMPORTED)
        assert events.count() == 3
        assert all(event.by is None for event in events)

    again = city_client.post(batch_url(batch["id"], "apply"), **bearer(key[1]))
    assert again.status_code == 409
    assert problem(again)["code"] == "import_not_ready"
    assert card_count(city) == 3
    with schema_context(city.schema_name):
        assert CardEvent.objects.filter(kind=EventKind.IMPORTED).count() == 3

    for action in ("import.uploaded", "import.confirmed", "import.applied"):
        assert len(audited(city, key[0], action)) == 1, action


def test_a_text_csv_body_with_its_file_name(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    response = city_client.post(
        IMPORTS,
        data=csv_bytes([card_row("A1B-123456")], encoding="cp932"),
        content_type="text/csv",
        HTTP_CONTENT_DISPOSITION='attachment; filename="cards-2026-11.csv"',
        **bearer(key[1]),
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["file_name"] == "cards-2026-11.csv"
    assert body["status"] == "ready"
    assert body["rows_new"] == 1
    assert "Shift_JIS" in body["encoding"] or "cp932" in body["encoding"].lower()


def test_problems_per_row_and_the_changes_on_request(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    bad = send(
        city_client, key[1], csv_bytes([card_row("A1B-123456"), card_row("A1B-123457", birth_date="昨日")])
    )
    body = bad.json()
    assert (body["status"], body["rows_error"]) == ("invalid", 1)
    [row] = body["problems"]
    assert row["line"] == 3
    assert row["message"]
    refused = city_client.post(batch_url(body["id"], "apply"), **bearer(key[1]))
    assert refused.status_code == 409
    assert "エラーあり" in problem(refused)["detail"]
    assert card_count(city) == 0

    # A change of an existing card is shown when asked, and that read is a personal-data view.
    first = send(city_client, key[1], csv_bytes([card_row("A1B-123456")])).json()
    city_client.post(batch_url(first["id"], "apply"), **bearer(key[1]))
    changed = send(
        city_client, key[1], csv_bytes([card_row("A1B-123456", address="埼玉県上尾市柏座1-1")])
    ).json()
    assert changed["rows_changed"] == 1
    assert "changes" not in changed
    shown = city_client.get(batch_url(changed["id"]), {"changes": "true"}, **bearer(key[1])).json()
    [change] = shown["changes"]
    assert change["notice_number"] == "A1B-123456"
    assert change["fields"][0]["after"] == "埼玉県上尾市柏座1-1"
    assert [row.target for row in audited(city, key[0], "personal_data.viewed")] == [
        f"ImportBatch:{changed['id']}"
    ]
    assert (
        city_client.get(batch_url(changed["id"]), {"changes": "perhaps"}, **bearer(key[1])).status_code == 400
    )


def test_discard(city: Municipality, city_client: Client, key: tuple[ApiKey, str]) -> None:
    batch = send(city_client, key[1], csv_bytes(numbered_rows(2))).json()
    discarded = city_client.post(batch_url(batch["id"], "discard"), **bearer(key[1]))
    assert discarded.status_code == 200, discarded.content
    assert discarded.json()["status"] == "discarded"
    assert len(audited(city, key[0], "import.discarded")) == 1
    after = city_client.post(batch_url(batch["id"], "apply"), **bearer(key[1]))
    assert after.status_code == 409
    twice = city_client.post(batch_url(batch["id"], "discard"), **bearer(key[1]))
    assert twice.status_code == 409
    assert problem(twice)["code"] == "import_not_ready"
    assert card_count(city) == 0


@pytest.mark.parametrize(
    ("content", "name", "words"),
    [
        (b"", "cards.csv", "ファイル"),
        (csv_bytes([card_row()], headers=["番号", "名前"]), "cards.csv", "見出し"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "cards.csv", ""),
        (csv_bytes([card_row()]), "cards.xlsx", "CSV"),
    ],
)
def test_files_the_upload_page_refuses_are_400_on_the_file(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str], content: bytes, name: str, words: str
) -> None:
    response = send(city_client, key[1], content, name=name)
    assert response.status_code == 400
    body = problem(response)
    assert body["code"] == "validation_failed"
    assert words in body["errors"]["file"][0]
    with schema_context(city.schema_name):
        assert not ImportBatch.objects.exists()


def test_the_size_limit(
    settings: Any, city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    settings.ISSUANCE_IMPORT_MAX_BYTES = 100
    response = send(city_client, key[1], csv_bytes(numbered_rows(5)))
    assert response.status_code == 400
    assert "大きすぎます" in problem(response)["errors"]["file"][0]


def test_an_individual_number_in_the_file_name_is_refused_and_audited(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    response = send(city_client, key[1], csv_bytes([card_row()]), name=f"{MY_NUMBER}.csv")
    assert response.status_code == 400
    assert problem(response)["code"] == "individual_number"
    assert MY_NUMBER not in response.content.decode()
    [row] = audited(city, key[0], "import.refused")
    assert MY_NUMBER not in row.summary
    with schema_context(city.schema_name):
        assert not ImportBatch.objects.exists()


def test_a_large_file_is_validated_in_the_background_and_polled(
    settings: Any,
    city: Municipality,
    city_client: Client,
    key: tuple[ApiKey, str],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.ISSUANCE_IMPORT_BACKGROUND_ROWS = 5
    sent: list[tuple[str, tuple[Any, ...]]] = []
    for task in (tasks_import.validate_import, tasks_import.apply_import):
        monkeypatch.setattr(
            task,
            "delay",
            lambda *args, _name=task.name, **kwargs: sent.append((_name, args + tuple(kwargs.values()))),
        )
    with django_capture_on_commit_callbacks(execute=True):
        uploaded = send(city_client, key[1], csv_bytes(numbered_rows(8)))
    assert uploaded.status_code == 202
    batch = uploaded.json()
    assert (batch["status"], batch["running"]) == ("validating", True)
    assert sent == [("apps.issuance.tasks_import.validate_import", (batch["id"],))]
    with schema_context(city.schema_name):
        tasks_import.validate_import(batch["id"])
    polled = city_client.get(batch_url(batch["id"]), **bearer(key[1])).json()
    assert (polled["status"], polled["running"], polled["rows_new"]) == ("ready", False, 8)
    with django_capture_on_commit_callbacks(execute=True):
        applying = city_client.post(batch_url(batch["id"], "apply"), **bearer(key[1]))
    assert applying.status_code == 202
    assert applying.json()["status"] == "applying"
    assert sent[-1] == (
        "apps.issuance.tasks_import.apply_import",
        (batch["id"], None, key[0].prefix, "127.0.0.1"),
    )
    with schema_context(city.schema_name), django_capture_on_commit_callbacks(execute=True):
        tasks_import.apply_import(*sent[-1][1])
    assert city_client.get(batch_url(batch["id"]), **bearer(key[1])).json()["status"] == "done"
    assert card_count(city) == 8
    # The task acts as the key that confirmed, not as the system.
    assert len(audited(city, key[0], "import.applied")) == 1


def test_scopes(city: Municipality, city_client: Client) -> None:
    _reader, read_token = make_key(city, ApiScope.CARDS_READ, name="読取のみ")
    _writer, write_token = make_key(city, ApiScope.CARDS_WRITE, name="更新のみ")
    refused = send(city_client, read_token, csv_bytes([card_row()]))
    assert refused.status_code == 403
    assert problem(refused)["code"] == "scope_missing"
    batch = send(city_client, write_token, csv_bytes([card_row()])).json()
    assert city_client.get(batch_url(batch["id"]), **bearer(write_token)).status_code == 403
    assert city_client.get(batch_url(batch["id"]), **bearer(read_token)).status_code == 200
    for action in ("apply", "discard"):
        response = city_client.post(batch_url(batch["id"], action), **bearer(read_token))
        assert response.status_code == 403
        assert problem(response)["code"] == "scope_missing"
    assert card_count(city) == 0


def test_another_citys_key_neither_reaches_nor_sees_this_citys_imports(
    city: Municipality,
    other_city: Municipality,
    city_client: Client,
    other_city_client: Client,
    key: tuple[ApiKey, str],
) -> None:
    batch = send(city_client, key[1], csv_bytes([card_row()])).json()
    _other, other_token = make_key(other_city, ApiScope.CARDS_READ, ApiScope.CARDS_WRITE, name="桶川の連携")
    here = city_client.get(batch_url(batch["id"]), **bearer(other_token))
    assert here.status_code == 401
    assert problem(here)["code"] == "api_key_unknown"
    assert other_city_client.get(batch_url(batch["id"]), **bearer(other_token)).status_code == 404
    assert other_city_client.post(batch_url(batch["id"], "apply"), **bearer(other_token)).status_code == 404
    assert other_city_client.post(batch_url(batch["id"], "discard"), **bearer(other_token)).status_code == 404
    assert card_count(city) == 0
    with schema_context(other_city.schema_name):
        assert not Card.objects.exists()
    with schema_context(city.schema_name):
        assert ImportBatch.objects.get(pk=batch["id"]).status == ImportBatch.Status.READY


def test_the_schema_describes_the_import_operations(city_client: Client, key: tuple[ApiKey, str]) -> None:
    schema = city_client.get("/api/v1/schema/", {"format": "json"}, **bearer(key[1])).json()
    upload = schema["paths"]["/api/v1/card-imports/"]["post"]
    assert {"multipart/form-data", "text/csv"} <= set(upload["requestBody"]["content"])
    assert {"202", "400", "401", "403", "429"} <= set(upload["responses"])
    apply = schema["paths"]["/api/v1/card-imports/{batch_id}/apply/"]["post"]
    assert {"200", "202", "404", "409"} <= set(apply["responses"])


def test_a_cell_holding_an_individual_number_is_a_row_problem_that_never_echoes_it(
    city: Municipality, city_client: Client, key: tuple[ApiKey, str]
) -> None:
    response = send(city_client, key[1], csv_bytes([card_row("A1B-123456", address=f"上尾市 {MY_NUMBER}")]))
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["rows_error"]) == ("invalid", 1)
    polled = city_client.get(batch_url(body["id"]), {"changes": "true"}, **bearer(key[1]))
    for answer in (response, polled):
        assert MY_NUMBER not in answer.content.decode()
