"""A supervisor imports a card list: preview first, nothing written until the whole file is valid and confirmed,
re-importing changes nothing, changes are shown and applied as events, bad files get a Japanese 4xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.issuance.imports.storage import private_dir
from apps.issuance.imports.tests.support import (
    HEADERS,
    SAMPLES,
    batch_id_of,
    card_row,
    csv_bytes,
    numbered_rows,
    upload,
)
from apps.issuance.models import Card, CardEvent, CardState, ColumnMapping, EventKind, ImportBatch
from apps.security.audit_models import AuditEvent
from apps.security.models import Role
from base.japanese import kana_key
from tenants.models import Municipality
from tests.factories import CardFactory, role_client

MY_NUMBER = "123456789018"


@pytest.fixture(autouse=True)
def _private_data(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path


@pytest.fixture
def supervisor(city: Municipality) -> Client:
    return role_client(city, Role.SUPERVISOR)


def _batch(city: Municipality, batch_id: int) -> ImportBatch:
    with schema_context(city.schema_name):
        return ImportBatch.objects.get(pk=batch_id)


def _cards(city: Municipality) -> dict[str, Card]:
    with schema_context(city.schema_name):
        return {card.notice_number: card for card in Card.objects.all()}


def _confirm(client: Client, batch_id: int) -> Any:
    return client.post(f"/staff/cards/import/{batch_id}/confirm/", follow=True)


@pytest.mark.parametrize(
    ("content", "encoding_shown"),
    [
        (
            csv_bytes([card_row(name="髙﨑 一郎", address="上尾市原市① ㈱上尾ビル")], bom=True),
            "UTF-8（BOM付き）",
        ),
        (csv_bytes([card_row(name="髙﨑 一郎", address="上尾市原市① ㈱上尾ビル")]), "UTF-8"),
        (
            csv_bytes([card_row(name="髙﨑 一郎", address="上尾市原市① ㈱上尾ビル")], encoding="cp932"),
            "Shift_JIS（cp932）",
        ),
    ],
)
def test_a_file_in_each_encoding_is_previewed_then_imported(
    supervisor: Client, content: bytes, encoding_shown: str, city: Municipality
) -> None:
    batch_id = batch_id_of(upload(supervisor, content))
    page = supervisor.get(f"/staff/cards/import/{batch_id}/").content.decode()
    assert encoding_shown in page
    assert "まだ取り込んでいません" in page
    assert _cards(city) == {}  # the preview writes nothing to the card list

    done = _confirm(supervisor, batch_id).content.decode()
    assert "取り込みました（新規 1件、変更 0件、変更なし 0件）" in done
    card = _cards(city)["A1B-123456"]
    assert (card.name, card.address) == ("髙﨑 一郎", "上尾市原市① ㈱上尾ビル")
    assert card.state == CardState.DELIVERED
    assert card.kana_key == kana_key("アゲオ タロウ")
    with schema_context(city.schema_name):
        event = CardEvent.objects.get(card=card)
        assert (event.kind, event.to_state, event.data) == (
            EventKind.IMPORTED,
            "delivered",
            {"batch": batch_id},
        )
        assert event.by is not None
        assert event.by.username == "ageo-supervisor"


def test_the_shipped_samples_import_as_they_are(supervisor: Client, city: Municipality) -> None:
    first = batch_id_of(upload(supervisor, (SAMPLES / "cards-ageo-sample.csv").read_bytes()))
    assert _batch(city, first).status == ImportBatch.Status.READY, _batch(city, first).errors
    _confirm(supervisor, first)
    cards = _cards(city)
    assert len(cards) == 30
    assert sum(card.express for card in cards.values()) == 2
    assert any("髙" in card.name for card in cards.values())

    # The cp932 copy holds the same cards: nothing new, nothing changed.
    second = batch_id_of(upload(supervisor, (SAMPLES / "cards-ageo-sample-cp932.csv").read_bytes()))
    batch = _batch(city, second)
    assert (batch.encoding, batch.rows_new, batch.rows_changed, batch.rows_unchanged) == ("cp932", 0, 0, 30)


def test_every_bad_row_is_listed_with_its_line_and_nothing_is_written(
    supervisor: Client, city: Municipality
) -> None:
    rows = [
        card_row("A1B-000001"),
        card_row("A1B-000002", name=""),
        card_row("A1B-000003", birth_date="1980-02-30"),
        card_row("ZZ-1"),
        card_row("A1B-000001"),
        card_row("A1B-000006", express="たぶん"),
        card_row("A1B-000007"),
    ]
    response = upload(supervisor, csv_bytes(rows))
    batch_id = batch_id_of(response)
    batch = _batch(city, batch_id)
    assert batch.status == ImportBatch.Status.INVALID
    assert (batch.rows_total, batch.rows_error) == (7, 5)
    page = supervisor.get(f"/staff/cards/import/{batch_id}/").content.decode()
    assert "誤りのある行があるため、このファイルは取り込めません。" in page
    for line, column, reason in [
        (3, "氏名", "「氏名」が空です。"),
        (4, "生年月日", "日付として読めません"),
        (5, "交付通知書番号", "交付通知書番号の形式が正しくありません"),
        (6, "交付通知書番号", "交付通知書番号 A1B-000001 が2行目と重複しています。"),
        (7, "特急", "「特急」は 1（特急）か 0 または空欄にしてください。"),
    ]:
        assert f'<td class="table__num">{line}</td><td>{column}</td><td>{reason}' in page, (line, reason)
    # The confirm button is not offered, and a confirm posted anyway writes nothing.
    assert "/confirm/" not in page
    assert "すでに確定または取りやめ" in _confirm(supervisor, batch_id).content.decode()
    assert _cards(city) == {}


def test_a_row_without_a_notice_number_is_an_error_never_a_made_up_number(
    supervisor: Client, city: Municipality
) -> None:
    batch = _batch(city, batch_id_of(upload(supervisor, csv_bytes([card_row(""), card_row("A1B-000009")]))))
    assert batch.status == ImportBatch.Status.INVALID
    assert batch.errors == [
        {"line": 2, "column": "交付通知書番号", "code": "required", "params": {"column": "交付通知書番号"}}
    ]
    assert _cards(city) == {}


def test_an_individual_number_in_any_cell_refuses_the_file(supervisor: Client, city: Municipality) -> None:
    headers = [*HEADERS, "備考"]
    rows = [[*card_row("A1B-000001"), ""], [*card_row("A1B-000002"), f"番号 {MY_NUMBER}"]]
    batch_id = batch_id_of(upload(supervisor, csv_bytes(rows, headers=headers)))
    batch = _batch(city, batch_id)
    assert batch.status == ImportBatch.Status.INVALID
    assert batch.errors == [{"line": 3, "column": "備考", "code": "individual_number", "params": {}}]
    page = supervisor.get(f"/staff/cards/import/{batch_id}/").content.decode()
    assert "個人番号（マイナンバー）と思われる12桁の番号があります。" in page
    assert MY_NUMBER not in page
    with schema_context(city.schema_name):
        assert MY_NUMBER not in str(list(ImportBatch.objects.values()))
        assert not AuditEvent.objects.filter(summary__contains=MY_NUMBER).exists()
    assert _cards(city) == {}


def test_reimporting_the_same_file_changes_and_creates_nothing(
    supervisor: Client, city: Municipality
) -> None:
    content = csv_bytes(numbered_rows(5))
    _confirm(supervisor, batch_id_of(upload(supervisor, content)))
    with schema_context(city.schema_name):
        events_before = CardEvent.objects.count()
        updated_before = {c.pk: c.updated_at for c in Card.objects.all()}

    again = batch_id_of(upload(supervisor, content))
    batch = _batch(city, again)
    assert (batch.rows_new, batch.rows_changed, batch.rows_unchanged, batch.rows_error) == (0, 0, 5, 0)
    _confirm(supervisor, again)
    assert _batch(city, again).status == ImportBatch.Status.DONE
    with schema_context(city.schema_name):
        assert CardEvent.objects.count() == events_before
        assert {c.pk: c.updated_at for c in Card.objects.all()} == updated_before
        assert Card.objects.count() == 5


def test_a_change_is_previewed_then_applied_as_an_event(
    supervisor: Client, in_city: Municipality, city: Municipality
) -> None:
    card = CardFactory.create(
        notice_number="A1B-123456",
        name="上尾 太郎",
        kana="アゲオ タロウ",
        birth_date="1980-04-01",
        postal_code="362-8501",
        address="埼玉県上尾市本町三丁目1番1号",
        delivery_batch="2026-11 第1回",
        delivery_date="2026-11-16",
        application_kind="新規",
        state=CardState.NOTICE_MAILED,
    )
    content = csv_bytes([card_row(name="上尾 次郎", kana="あげお じろう"), card_row("A1B-000002")])
    batch_id = batch_id_of(upload(supervisor, content))
    batch = _batch(city, batch_id)
    assert (batch.rows_new, batch.rows_changed, batch.rows_unchanged) == (1, 1, 0)
    page = supervisor.get(f"/staff/cards/import/{batch_id}/").content.decode()
    assert "A1B-123456" in page
    assert "<td>氏名</td><td>上尾 太郎</td><td>上尾 次郎</td>" in page
    assert "<td>ふりがな</td><td>アゲオ タロウ</td><td>あげお じろう</td>" in page
    card.refresh_from_db()
    assert card.name == "上尾 太郎"  # not before the confirm

    _confirm(supervisor, batch_id)
    card.refresh_from_db()
    assert (card.name, card.kana, card.kana_key) == ("上尾 次郎", "あげお じろう", kana_key("アゲオ ジロウ"))
    assert card.state == CardState.NOTICE_MAILED  # data changes never move the state
    event = CardEvent.objects.get(card=card, kind=EventKind.CHANGED)
    assert event.data["before"] == {"name": "上尾 太郎", "kana": "アゲオ タロウ"}
    assert event.data["after"] == {"name": "上尾 次郎", "kana": "あげお じろう"}
    assert (event.from_state, event.to_state) == ("notice_mailed", "notice_mailed")


def test_a_second_confirm_does_nothing(supervisor: Client, city: Municipality) -> None:
    batch_id = batch_id_of(upload(supervisor, csv_bytes(numbered_rows(3))))
    first = _confirm(supervisor, batch_id).content.decode()
    second = _confirm(supervisor, batch_id).content.decode()
    assert "取り込みました" in first
    assert "この取込はすでに確定または取りやめになっています。" in second
    with schema_context(city.schema_name):
        assert Card.objects.count() == 3
        assert CardEvent.objects.filter(kind=EventKind.IMPORTED).count() == 3
        assert AuditEvent.objects.filter(action="import.applied").count() == 1


def test_upload_confirm_and_discard_are_audited(supervisor: Client, city: Municipality) -> None:
    applied = batch_id_of(upload(supervisor, csv_bytes(numbered_rows(2))))
    _confirm(supervisor, applied)
    discarded = batch_id_of(upload(supervisor, csv_bytes(numbered_rows(2, start=10))))
    supervisor.post(f"/staff/cards/import/{discarded}/discard/")
    with schema_context(city.schema_name):
        actions = list(AuditEvent.objects.order_by("sequence").values_list("action", "target"))
    assert ("import.uploaded", f"ImportBatch:{applied}") in actions
    assert ("import.confirmed", f"ImportBatch:{applied}") in actions
    assert ("import.applied", f"ImportBatch:{applied}") in actions
    assert ("import.discarded", f"ImportBatch:{discarded}") in actions
    assert _batch(city, discarded).status == ImportBatch.Status.DISCARDED
    assert set(_cards(city)) == {"B2C-000000", "B2C-000001"}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("cards.csv", b"", "ファイルが空です。"),
        ("cards.xlsx", csv_bytes([card_row()]), "CSVファイル（拡張子 .csv）を選んでください。"),
        ("cards.csv", b"PK\x03\x04\x14\x00\x06\x00", "Excelなどの圧縮されたファイルのようです。"),
        ("cards.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "文字以外のデータを含むファイルです。"),
        (
            "cards.csv",
            "交付通知書番号,氏名\r\n".encode(),
            "必要な列の見出しがありません: 「生年月日」、「住所」、「納品日」",
        ),
        ("cards.csv", csv_bytes([]), "データの行がありません"),
        ("cards.csv", csv_bytes([card_row()], encoding="utf-16"), "UTF-16のファイルは読めません。"),
    ],
)
def test_a_bad_file_gets_a_japanese_400_and_keeps_nothing(
    supervisor: Client, tmp_path: Path, name: str, content: bytes, message: str, city: Municipality
) -> None:
    response = upload(supervisor, content, name=name)
    assert response.status_code == 400
    assert message in response.content.decode()
    with schema_context(city.schema_name):
        assert not ImportBatch.objects.exists()
    assert not private_dir("ageo").exists() or not any(private_dir("ageo").iterdir())


def test_a_file_over_the_size_limit_is_refused(supervisor: Client, settings: Any, city: Municipality) -> None:
    settings.ISSUANCE_IMPORT_MAX_BYTES = 1024
    response = upload(supervisor, csv_bytes(numbered_rows(50)))
    assert response.status_code == 400
    assert "ファイルが大きすぎます" in response.content.decode()
    with schema_context(city.schema_name):
        assert not ImportBatch.objects.exists()


def test_a_saved_column_mapping_reads_the_citys_own_headers(supervisor: Client, city: Municipality) -> None:
    own = ["通知書番号", "氏名漢字", "氏名カナ", "生年月日", "住所", "受領日"]
    saved = supervisor.post(
        "/staff/cards/import/mappings/add/",
        {
            "name": "住基システム",
            "col_notice_number": "通知書番号",
            "col_name": "氏名漢字",
            "col_kana": "氏名カナ",
            "col_birth_date": "生年月日",
            "col_postal_code": "",
            "col_address": "住所",
            "col_delivery_batch": "",
            "col_delivery_date": "受領日",
            "col_application_kind": "",
            "col_express": "",
        },
    )
    assert saved.status_code == 302
    with schema_context(city.schema_name):
        mapping = ColumnMapping.objects.get(name="住基システム")
    content = csv_bytes(
        [["a1b123456", "上尾 太郎", "アゲオ タロウ", "S55.4.1", "上尾市本町", "R8.11.16"]], headers=own
    )
    refused = upload(supervisor, content)
    assert refused.status_code == 400
    assert "「交付通知書番号」" in refused.content.decode()
    batch_id = batch_id_of(upload(supervisor, content, mapping=str(mapping.pk)))
    _confirm(supervisor, batch_id)
    card = _cards(city)["A1B-123456"]
    assert (str(card.birth_date), str(card.delivery_date), card.delivery_batch) == (
        "1980-04-01",
        "2026-11-16",
        "2026-11-16",
    )


def test_the_mapping_form_refuses_one_header_for_two_fields(supervisor: Client) -> None:
    data = {
        f"col_{key}": header
        for key, header in zip(
            [
                "notice_number",
                "name",
                "kana",
                "birth_date",
                "postal_code",
                "address",
                "delivery_batch",
                "delivery_date",
                "application_kind",
                "express",
            ],
            HEADERS,
            strict=True,
        )
    }
    data.update(name="重複", col_kana="氏名")
    response = supervisor.post("/staff/cards/import/mappings/add/", data)
    assert response.status_code == 400
    assert "見出し「氏名」は「氏名」にも使われています。" in response.content.decode()


def test_counter_staff_get_403_and_anonymous_users_the_login(city: Municipality, city_client: Client) -> None:
    staff = role_client(city, Role.STAFF)
    for path in ["/staff/cards/import/", "/staff/cards/import/upload/", "/staff/cards/import/mappings/"]:
        assert staff.get(path).status_code == 403, path
        anonymous = city_client.get(path)
        assert anonymous.status_code == 302, path
        assert anonymous["Location"].startswith("/accounts/login/"), path
    assert upload(staff, csv_bytes([card_row()])).status_code == 403
    with schema_context(city.schema_name):
        assert not ImportBatch.objects.exists()


def test_another_city_sees_no_batch_and_no_card(supervisor: Client, other_city: Municipality) -> None:
    batch_id = batch_id_of(upload(supervisor, csv_bytes(numbered_rows(2))))
    _confirm(supervisor, batch_id)
    other = role_client(other_city, Role.SUPERVISOR)
    assert other.get(f"/staff/cards/import/{batch_id}/").status_code == 404
    assert other.get(f"/staff/cards/import/{batch_id}/progress/").status_code == 404
    assert other.post(f"/staff/cards/import/{batch_id}/confirm/").status_code == 404
    assert "B2C-000000" not in other.get("/staff/cards/import/").content.decode()
    assert "cards.csv" not in other.get("/staff/cards/import/").content.decode()
    with schema_context(other_city.schema_name):
        assert not Card.objects.exists()
        assert not ImportBatch.objects.exists()


def test_the_batch_list_shows_newest_first_with_counts(supervisor: Client) -> None:
    first = batch_id_of(upload(supervisor, csv_bytes(numbered_rows(2)), name="first.csv"))
    _confirm(supervisor, first)
    batch_id_of(upload(supervisor, csv_bytes([card_row("B2C-000000"), card_row("ZZ")]), name="second.csv"))
    page = supervisor.get("/staff/cards/import/").content.decode()
    assert page.index("second.csv") < page.index("first.csv")
    assert "取込済" in page
    assert "エラーあり" in page


def test_a_long_problem_list_is_paged(supervisor: Client) -> None:
    rows = [card_row(f"A1B-{n:06d}", birth_date="昭和64年1月8日") for n in range(130)]
    batch_id = batch_id_of(upload(supervisor, csv_bytes(rows)))
    first = supervisor.get(f"/staff/cards/import/{batch_id}/").content.decode()
    assert "1 / 2 ページ" in first
    assert "和暦の年月日がその元号の期間にありません。" in first
    second = supervisor.get(f"/staff/cards/import/{batch_id}/?errors=2").content.decode()
    assert '<td class="table__num">131</td>' in second
    assert '<td class="table__num">101</td>' not in second
