"""CSV for Excel: UTF-8 with a BOM or cp932, never a '?', formulas neutralised, a filename in RFC 5987 form."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import unquote

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from django_tenants.utils import schema_context

from apps.issuance.reports.exports import (
    CP932,
    UTF8_BOM,
    CsvTable,
    NotEncodableError,
    content_disposition,
    csv_response,
)
from apps.security.models import Role
from tenants.models import Municipality
from tests.factories import CardFactory, role_client

HEADERS = ["交付通知書の番号", "氏名", "住所"]


def table(rows: Iterable[Sequence[Any]]) -> CsvTable:
    return CsvTable(
        headers=HEADERS, rows=rows, filename="未受取一覧_20261105", ascii_filename="unclaimed_20261105"
    )


def body(response: StreamingHttpResponse) -> bytes:
    return b"".join(response.streaming_content)  # type: ignore[arg-type]


def parse(data: bytes, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding), newline="")))


def test_utf8_export_starts_with_a_bom_and_reads_back_as_utf8_sig() -> None:
    response = csv_response(table([["A1B-000001", "𠮷野 太郎", "上尾市"]]), encoding=UTF8_BOM)
    data = body(response)
    assert data.startswith(b"\xef\xbb\xbf")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert parse(data, "utf-8-sig") == [HEADERS, ["A1B-000001", "𠮷野 太郎", "上尾市"]]
    assert b"\r\n" in data  # Excel's line ends


def test_utf8_export_is_streamed_for_long_lists() -> None:
    rows = ([f"A1B-{n:06d}", "上尾 花子", "本町"] for n in range(5000))
    response = csv_response(table(rows), encoding=UTF8_BOM)
    assert response.streaming
    assert len(parse(body(response), "utf-8-sig")) == 5001


def test_cp932_holds_the_characters_shift_jis_cannot() -> None:
    names = ["髙橋 一郎", "山﨑 花子", "①番窓口", "㈱上尾商事"]
    rows = [[f"A1B-{n:06d}", name, "上尾市"] for n, name in enumerate(names)]
    response = csv_response(table(rows), encoding=CP932)
    data = body(response)
    assert response["Content-Type"] == "text/csv; charset=cp932"
    assert not data.startswith(b"\xef\xbb\xbf")
    assert b"?" not in data
    assert [row[1] for row in parse(data, "cp932")[1:]] == names
    assert "髙".encode("cp932") in data
    assert int(response["Content-Length"]) == len(data)


def test_cp932_writes_the_wave_dash_as_the_windows_tilde_excel_shows_the_same() -> None:
    # cp932 has one code (0x8160) for 〜 (U+301C, typed on a Mac) and ～ (U+FF5E, typed on Windows).
    data = body(csv_response(table([["A1B-000001", "9時〜17時", "上尾市"]]), encoding=CP932))
    assert b"\x81\x60" in data
    assert parse(data, "cp932")[1][1] == "9時～17時"


def test_cp932_refuses_and_lists_the_lines_it_cannot_hold_instead_of_writing_a_question_mark() -> None:
    rows = [
        ["A1B-000001", "髙橋 一郎", "上尾市"],
        ["A1B-000002", "𠮷田 花子", "上尾市"],
        ["A1B-000003", "山田 太郎", "𩸽町 — 1"],
    ]
    with pytest.raises(NotEncodableError) as refused:
        csv_response(table(rows), encoding=CP932)
    assert refused.value.lines == 2
    found = [(p.line, p.key, p.column, p.characters) for p in refused.value.problems]
    assert found == [(3, "A1B-000002", "氏名", "𠮷"), (4, "A1B-000003", "住所", "𩸽—")]
    assert refused.value.problems[0].code_points == "U+20BB7"


def test_cp932_leaves_those_lines_out_only_when_asked_and_never_writes_a_question_mark() -> None:
    rows = [["A1B-000001", "髙橋 一郎", "上尾市"], ["A1B-000002", "𠮷田 花子", "上尾市"]]
    data = body(csv_response(table(rows), encoding=CP932, leave_out_unencodable=True))
    assert b"?" not in data
    assert parse(data, "cp932") == [HEADERS, ["A1B-000001", "髙橋 一郎", "上尾市"]]


@pytest.mark.parametrize("encoding", [UTF8_BOM, CP932])
@pytest.mark.parametrize("formula", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB"])
def test_cells_that_start_like_a_formula_get_an_apostrophe(encoding: str, formula: str) -> None:
    data = body(csv_response(table([["A1B-000001", formula, "上尾市"]]), encoding=encoding))
    text = "utf-8-sig" if encoding == UTF8_BOM else "cp932"
    assert parse(data, text)[1][1] == "'" + formula


def test_the_filename_has_an_ascii_fallback_and_the_japanese_name_in_rfc_5987_form() -> None:
    header = content_disposition("未受取一覧_20261105", "unclaimed_20261105")
    assert header.startswith('attachment; filename="unclaimed_20261105.csv"; ')
    encoded = header.split("filename*=UTF-8''", 1)[1]
    assert encoded.isascii()
    assert unquote(encoded) == "未受取一覧_20261105.csv"
    assert content_disposition("x", 'a"b\r\n') == "attachment; filename=\"a_b__.csv\"; filename*=UTF-8''x.csv"


# Through a real work list: the refusal page, its two ways out, and the download headers.

UNCLAIMED_EXPORT = "/staff/reports/lists/unclaimed/export/"


@pytest.fixture
def supervisor(city: Municipality) -> Client:
    return role_client(city, Role.SUPERVISOR)


def _mailed_long_ago(name: str) -> None:
    from datetime import timedelta

    from django.utils import timezone

    CardFactory.create(name=name, notice_mailed_at=timezone.now() - timedelta(weeks=30))


def test_the_list_export_refuses_cp932_with_a_japanese_page_and_offers_utf8(
    city: Municipality, supervisor: Client
) -> None:
    with schema_context(city.schema_name):
        _mailed_long_ago("𠮷田 花子")
        _mailed_long_ago("髙橋 一郎")
    refused = supervisor.get(UNCLAIMED_EXPORT, {"encoding": "cp932"})
    assert refused.status_code == 409
    page = refused.content.decode()
    assert "Shift_JIS（cp932）で表せない文字があります" in page
    assert "𠮷" in page
    assert "U+20BB7" in page
    assert "encoding=utf8" in page
    assert "leave_out=1" in page

    utf8 = supervisor.get(UNCLAIMED_EXPORT, {"encoding": "utf8"})
    assert utf8.status_code == 200
    assert "𠮷田 花子" in b"".join(utf8.streaming_content).decode("utf-8-sig")
    assert "filename*=UTF-8''" in utf8["Content-Disposition"]
    assert utf8["Cache-Control"] == "no-store"

    left_out = supervisor.get(UNCLAIMED_EXPORT, {"encoding": "cp932", "leave_out": "1"})
    assert left_out.status_code == 200
    data = b"".join(left_out.streaming_content)
    assert b"?" not in data
    text = data.decode("cp932")
    assert "髙橋 一郎" in text
    assert "田 花子" not in text


def test_an_unknown_encoding_is_a_clear_400(city: Municipality, supervisor: Client) -> None:
    response = supervisor.get(UNCLAIMED_EXPORT, {"encoding": "shift_jis"})
    assert response.status_code == 400
    assert "出力の文字コードを選び直してください。" in response.content.decode()
