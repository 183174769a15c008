"""Reading a city's card-list CSV: the documented columns, encoding detection, and one row's validation.

Pure functions, no database: `engine.py` walks the rows and compares them with the card list. The format is
documented in docs/card-import.md; the defaults below are that document's headers.

Encodings: a UTF-8 BOM means UTF-8; otherwise the whole file must decode as UTF-8, else as cp932 (Windows
Shift_JIS). Never `shift_jis`: it cannot decode ①, ㈱, 髙 or 﨑, which city systems write all the time.
"""

from __future__ import annotations

import codecs
import csv
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from base.japanese import notice_number_normalise, parse_date, postal_code_normalise
from base.mynumber import contains_individual_number

UTF8_BOM = "utf-8-sig"
UTF8 = "utf-8"
CP932 = "cp932"
ENCODING_LABELS: dict[str, Promise] = {
    UTF8_BOM: _("UTF-8（BOM付き）"),
    UTF8: _("UTF-8"),
    CP932: _("Shift_JIS（cp932）"),
}
_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class Column:
    key: str  # the Card field
    header: str  # the documented header (docs/card-import.md)
    label: Promise
    required: bool
    max_length: int = 0  # 0: checked by its own shape (number, date, flag)


COLUMNS: list[Column] = [
    Column("notice_number", "交付通知書番号", _("交付通知書番号"), True),
    Column("name", "氏名", _("氏名"), True, 100),
    Column("kana", "ふりがな", _("ふりがな"), False, 100),
    Column("birth_date", "生年月日", _("生年月日"), True),
    Column("postal_code", "郵便番号", _("郵便番号"), False),
    Column("address", "住所", _("住所"), True, 300),
    Column("delivery_batch", "納品回", _("納品回"), False, 40),
    Column("delivery_date", "納品日", _("納品日"), True),
    Column("application_kind", "申請種別", _("申請種別"), False, 40),
    Column("express", "特急", _("特急"), False),
]
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}
DEFAULT_MAPPING: dict[str, str] = {c.key: c.header for c in COLUMNS}
# The fields an import compares with a known card (all but the number): a difference is a "change".
DATA_FIELDS = [c.key for c in COLUMNS if c.key != "notice_number"]

# Problems, by code: stored as codes with parameters (the batch keeps them), shown in the reader's language.
MESSAGES: dict[str, Promise] = {
    "required": _("「%(column)s」が空です。"),
    "notice_number": _("交付通知書番号の形式が正しくありません（例: A1B-123456）。"),
    "duplicate": _("交付通知書番号 %(number)s が%(first)d行目と重複しています。"),
    "date": _("日付として読めません（例: 1980-04-01、1980/4/1、S55.4.1、昭和55年4月1日）。"),
    "era_range": _("和暦の年月日がその元号の期間にありません。"),
    "future": _("生年月日が今日より後の日付です。"),
    "postal_code": _("郵便番号は7桁の数字で入力してください（例: 362-8501）。"),
    "flag": _("「%(column)s」は 1（特急）か 0 または空欄にしてください。"),
    "too_long": _("「%(column)s」が長すぎます（%(max)d文字まで、この行は%(length)d文字）。"),
    "individual_number": _(
        "個人番号（マイナンバー）と思われる12桁の番号があります。個人番号は取り込めません。"
        "この列を削除するか、番号を消してから取り込んでください。"
    ),
    "control": _("制御文字が含まれています。"),
    "extra_cells": _("見出しより多くの列に値があります。"),
}


def message_text(code: str, params: Mapping[str, Any]) -> str:
    template = MESSAGES.get(code)
    return str(template) % dict(params) if template is not None else code


class CsvFileError(Exception):
    """The file as a whole cannot be read (not a CSV, wrong encoding, wrong headers): nothing is imported."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- the file ---------------------------------------------------------------------------------------------------

_BINARY_SIGNATURES: list[tuple[bytes, Promise]] = [
    (b"PK\x03\x04", _("Excelなどの圧縮されたファイルのようです。CSV形式で保存してから取り込んでください。")),
    (
        b"\xd0\xcf\x11\xe0",
        _("Excel 97-2003形式のファイルのようです。CSV形式で保存してから取り込んでください。"),
    ),
    (b"%PDF", _("PDFファイルは取り込めません。CSVファイルを選んでください。")),
    (b"\xff\xfe", _("UTF-16のファイルは読めません。UTF-8またはShift_JIS（cp932）のCSVで保存してください。")),
    (b"\xfe\xff", _("UTF-16のファイルは読めません。UTF-8またはShift_JIS（cp932）のCSVで保存してください。")),
]


def check_not_binary(head: bytes) -> None:
    """Refuse files that are plainly not text (a spreadsheet, a PDF, an image)."""
    for signature, message in _BINARY_SIGNATURES:
        if head.startswith(signature):
            raise CsvFileError(str(message))
    if b"\x00" in head:
        raise CsvFileError(str(_("文字以外のデータを含むファイルです。CSVファイルを選んでください。")))


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_READ_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(path: Path) -> str:
    """UTF-8 with BOM, UTF-8, else cp932, reading the whole file (a late byte can decide); CsvFileError if none."""
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(codecs.BOM_UTF8):
        if _decodes(path, UTF8_BOM):
            return UTF8_BOM
    elif _decodes(path, UTF8):
        return UTF8
    elif _decodes(path, CP932):
        return CP932
    raise CsvFileError(
        str(_("文字コードを判別できません。UTF-8またはShift_JIS（cp932）で保存したCSVを選んでください。"))
    )


def _clean_header(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().strip("\ufeff").strip()


@dataclass
class Layout:
    """Where each field is in the file: the header row read against a mapping (field -> header)."""

    headers: list[str]
    positions: dict[str, int]  # field -> column index; optional fields missing from the file are absent
    names: dict[str, str] = field(
        default_factory=dict
    )  # field -> what problems call it (its header in the file)


def layout_for(headers: list[str], mapping: Mapping[str, str]) -> Layout:
    """Match the header row to the mapping; CsvFileError naming every required header the file lacks."""
    cleaned = [_clean_header(h) for h in headers]
    index: dict[str, int] = {}
    for position, header in enumerate(cleaned):
        if header and header not in index:
            index[header] = position
    positions: dict[str, int] = {}
    missing: list[str] = []
    for column in COLUMNS:
        wanted = _clean_header(mapping.get(column.key, "") or "")
        candidates = [wanted] if wanted else []
        if mapping.get(column.key) == column.header or not wanted:
            candidates.append(column.key)  # the default mapping also accepts the English field name
        found = next((index[c] for c in candidates if c in index), None)
        if found is not None:
            positions[column.key] = found
        elif column.required:
            missing.append(wanted or column.header)
    if missing:
        raise CsvFileError(
            str(
                _(
                    "必要な列の見出しがありません: %(missing)s。1行目の見出しを確かめるか、列の対応を選んでください"
                    "（このファイルの見出し: %(found)s）。"
                )
            )
            % {
                "missing": "、".join(f"「{m}」" for m in missing),
                "found": "、".join(f"「{h}」" for h in cleaned[:30] if h) or "なし",
            }
        )
    names = {c.key: cleaned[positions[c.key]] if c.key in positions else str(c.label) for c in COLUMNS}
    return Layout(headers=cleaned, positions=positions, names=names)


def read_rows(path: Path, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """(line number of the record's first line, cells) for the header and every record, streamed."""
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle)
        previous_end = 0
        try:
            for cells in reader:
                yield previous_end + 1, cells
                previous_end = reader.line_num
        except csv.Error as exc:
            raise CsvFileError(
                str(_("%(line)d行目をCSVとして読めません（%(reason)s）。"))
                % {
                    "line": reader.line_num,
                    "reason": exc,
                }
            ) from exc


# --- one row ----------------------------------------------------------------------------------------------------


@dataclass
class Problem:
    line: int
    column: str  # the header in the file (or the field's label when the file has no such column)
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "code": self.code, "params": self.params}


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DIGIT = re.compile(r"\d")
_TRUE = {"1", "true", "yes", "y", "○", "〇", "◯", "有", "あり", "はい", "特急", "*"}
_FALSE = {"", "0", "false", "no", "n", "無", "なし", "いいえ", "-", "×"}


def _has_individual_number(cell: str) -> bool:
    # Fast path, exact: mynumber reads the NFKC form and counts each Unicode decimal digit (what `\d` matches) as
    # a digit, so a cell with fewer than 12 of them cannot hold a 12-digit token. Most cells (names, kana,
    # addresses, dates) stop here, in C, instead of in the tokenizer.
    if len(_DIGIT.findall(unicodedata.normalize("NFKC", cell))) < 12:
        return False
    return contains_individual_number(cell)


@dataclass
class ParsedRow:
    line: int
    values: dict[str, Any]  # field -> value as the Card stores it

    @property
    def notice_number(self) -> str:
        return str(self.values["notice_number"])


def parse_row(line: int, cells: list[str], layout: Layout, *, today: date) -> tuple[ParsedRow, list[Problem]]:
    """Validate one record. The values are only meaningful when the problem list is empty."""
    problems: list[Problem] = []

    def header_at(position: int) -> str:
        return layout.headers[position] if position < len(layout.headers) else f"{position + 1}列目"

    # Every cell, mapped or not: a 個人番号 must not reach the system in any column (DOMAIN.md).
    controls = _CONTROL.search("\t".join(cells)) is not None  # one search per row; the cell is found below
    for position, cell in enumerate(cells):
        if cell and _has_individual_number(cell):
            problems.append(Problem(line, header_at(position), "individual_number"))
        elif controls and _CONTROL.search(cell):
            problems.append(Problem(line, header_at(position), "control"))
    if len(cells) > len(layout.headers) and any(c.strip() for c in cells[len(layout.headers) :]):
        problems.append(Problem(line, header_at(len(layout.headers)), "extra_cells"))
    if problems:
        return ParsedRow(line, {}), problems

    values: dict[str, Any] = {}
    for column in COLUMNS:
        index = layout.positions.get(column.key)
        raw = cells[index].strip() if index is not None and index < len(cells) else ""
        name = layout.names[column.key]
        if not raw:
            if column.required:
                problems.append(Problem(line, name, "required", {"column": name}))
            values[column.key] = False if column.key == "express" else ""
            continue
        if column.max_length and len(raw) > column.max_length:
            problems.append(
                Problem(
                    line, name, "too_long", {"column": name, "max": column.max_length, "length": len(raw)}
                )
            )
            continue
        if column.key == "notice_number":
            number = notice_number_normalise(raw)
            if number is None:
                problems.append(Problem(line, name, "notice_number"))
            values[column.key] = number or ""
        elif column.key in ("birth_date", "delivery_date"):
            day, code = parse_date(raw)
            if day is None:
                problems.append(Problem(line, name, code))
            elif column.key == "birth_date" and day > today:
                problems.append(Problem(line, name, "future"))
            values[column.key] = day
        elif column.key == "postal_code":
            code_value = postal_code_normalise(raw)
            if code_value is None:
                problems.append(Problem(line, name, "postal_code"))
            values[column.key] = code_value or ""
        elif column.key == "express":
            flag = unicodedata.normalize("NFKC", raw).strip().lower()
            if flag not in _TRUE | _FALSE:
                problems.append(Problem(line, name, "flag", {"column": name}))
            values[column.key] = flag in _TRUE
        else:
            values[column.key] = raw
    if not problems and not values["delivery_batch"]:
        # A file without 納品回 groups its cards by delivery date (the notices print per batch).
        values["delivery_batch"] = values["delivery_date"].isoformat()
    return ParsedRow(line, values), problems


def is_blank(cells: list[str]) -> bool:
    """Empty lines (and Excel's trailing ",,,,") are skipped, not reported."""
    return not any(c.strip() for c in cells)
