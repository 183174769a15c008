"""Reading a card-list CSV without the database: encodings, dates, headers, one row's problems."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from apps.issuance.imports.csv_read import (
    CP932,
    DEFAULT_MAPPING,
    UTF8,
    UTF8_BOM,
    CsvFileError,
    check_not_binary,
    detect_encoding,
    layout_for,
    parse_row,
)
from apps.issuance.imports.tests.support import HEADERS, card_row, csv_bytes
from base.japanese import parse_date, postal_code_normalise

TODAY = date(2026, 11, 28)
MY_NUMBER = "123456789018"  # a valid check digit (DOMAIN.md)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1980-04-01", date(1980, 4, 1)),
        ("1980/4/1", date(1980, 4, 1)),
        ("１９８０／４／１", date(1980, 4, 1)),
        ("1980年4月1日", date(1980, 4, 1)),
        ("19800401", date(1980, 4, 1)),
        ("S55.4.1", date(1980, 4, 1)),
        ("s55/04/01", date(1980, 4, 1)),
        ("昭和55年4月1日", date(1980, 4, 1)),
        ("昭和64年1月7日", date(1989, 1, 7)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("H31.4.30", date(2019, 4, 30)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("R6.10.1", date(2024, 10, 1)),
    ],
)
def test_dates_in_seireki_and_wareki_are_read(text: str, expected: date) -> None:
    assert parse_date(text) == (expected, "")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1980-02-30", "date"),
        ("80/4/1", "date"),
        ("昭和64年1月8日", "era_range"),
        ("H31.5.1", "era_range"),
        ("X1.1.1", "date"),
    ],
)
def test_impossible_dates_are_refused(text: str, code: str) -> None:
    assert parse_date(text) == (None, code)


def test_postal_codes_in_any_width_are_normalised() -> None:
    assert postal_code_normalise("〒３６２－８５０１") == "362-8501"
    assert postal_code_normalise("3628501") == "362-8501"
    assert postal_code_normalise("362-850") is None


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (csv_bytes([card_row(name="髙﨑 一郎")], bom=True), UTF8_BOM),
        (csv_bytes([card_row(name="髙﨑 一郎")]), UTF8),
        (csv_bytes([card_row(name="髙﨑 一郎", address="上尾市原市① ㈱上尾")], encoding="cp932"), CP932),
    ],
)
def test_the_encoding_is_detected(tmp_path: Path, data: bytes, encoding: str) -> None:
    path = tmp_path / "cards.csv"
    path.write_bytes(data)
    assert detect_encoding(path) == encoding


def test_cp932_characters_that_break_shift_jis_are_read() -> None:
    text = "髙﨑①㈱"
    with pytest.raises(UnicodeEncodeError):
        text.encode("shift_jis")
    assert text.encode("cp932").decode("cp932") == text


def test_a_file_in_no_known_encoding_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cards.csv"
    path.write_bytes("交付通知書番号\n".encode("euc_jp") + b"\x80\xff\xfe\n")
    with pytest.raises(CsvFileError, match="文字コードを判別できません"):
        detect_encoding(path)


@pytest.mark.parametrize(
    "head", [b"PK\x03\x04rest", b"%PDF-1.7", b"\xff\xfe\x00a", b"\x89PNG\r\n\x1a\n\x00\x00"]
)
def test_binary_files_are_refused(head: bytes) -> None:
    with pytest.raises(CsvFileError):
        check_not_binary(head)


def test_missing_headers_are_named() -> None:
    with pytest.raises(CsvFileError) as problem:
        layout_for(["番号", "氏名", "生年月日"], DEFAULT_MAPPING)
    assert "「交付通知書番号」" in problem.value.message
    assert "「住所」" in problem.value.message
    assert "「納品日」" in problem.value.message
    assert "「氏名」" not in problem.value.message.split("（")[0]


def test_optional_columns_may_be_absent() -> None:
    required = ["交付通知書番号", "氏名", "生年月日", "住所", "納品日"]
    layout = layout_for(required, DEFAULT_MAPPING)
    row, problems = parse_row(
        2, ["A1B123456", "上尾 太郎", "1980-04-01", "上尾市本町", "2026-11-16"], layout, today=TODAY
    )
    assert problems == []
    assert row.values["notice_number"] == "A1B-123456"
    assert row.values["kana"] == ""
    assert row.values["express"] is False
    assert row.values["delivery_batch"] == "2026-11-16"  # grouped by delivery date when the file has no batch


def _problems(**values: str) -> list[tuple[str, str]]:
    _row, problems = parse_row(5, card_row(**values), layout_for(HEADERS, DEFAULT_MAPPING), today=TODAY)
    return [(p.column, p.code) for p in problems]


def test_each_problem_names_its_column() -> None:
    assert _problems(name="") == [("氏名", "required")]
    assert _problems(number="12-34") == [("交付通知書番号", "notice_number")]
    assert _problems(birth_date="1980-13-01") == [("生年月日", "date")]
    assert _problems(birth_date="2030-01-01") == [("生年月日", "future")]
    assert _problems(postal_code="36285") == [("郵便番号", "postal_code")]
    assert _problems(express="たぶん") == [("特急", "flag")]
    assert _problems(name="あ" * 101) == [("氏名", "too_long")]


def test_an_individual_number_in_any_cell_is_refused() -> None:
    assert _problems(address=f"上尾市本町 {MY_NUMBER}") == [("住所", "individual_number")]
    assert _problems(application_kind="１２３４ ５６７８ ９０１８") == [("申請種別", "individual_number")]
    # A 13-digit number is not one (only whole tokens count).
    assert _problems(address=f"上尾市本町 {MY_NUMBER}0") == []


def test_full_width_notice_numbers_without_hyphen_are_normalised() -> None:
    row, problems = parse_row(
        2, card_row("ａ１ｂ１２３４５６"), layout_for(HEADERS, DEFAULT_MAPPING), today=TODAY
    )
    assert problems == []
    assert row.values["notice_number"] == "A1B-123456"
