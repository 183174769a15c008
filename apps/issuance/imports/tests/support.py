"""Helpers of the card-list import tests: CSV files built in memory, and the upload as a supervisor does it."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.issuance.imports.csv_read import COLUMNS

HEADERS = [c.header for c in COLUMNS]
SAMPLES = Path(__file__).resolve().parents[4] / "docs" / "samples"


def card_row(number: str = "A1B-123456", **values: str) -> list[str]:
    """One data row with plausible values; keyword arguments replace cells by field name."""
    row = {
        "notice_number": number,
        "name": "上尾 太郎",
        "kana": "あげお たろう",
        "birth_date": "1980-04-01",
        "postal_code": "362-8501",
        "address": "埼玉県上尾市本町三丁目1番1号",
        "delivery_batch": "2026-11 第1回",
        "delivery_date": "2026-11-16",
        "application_kind": "新規",
        "express": "0",
    }
    row.update(values)
    return [row[c.key] for c in COLUMNS]


def numbered_rows(count: int, start: int = 0, prefix: str = "B2C") -> list[list[str]]:
    return [
        card_row(f"{prefix}-{start + n:06d}", name=f"上尾 太郎{n}", kana=f"あげお たろう{n}")
        for n in range(count)
    ]


def csv_bytes(
    rows: Sequence[Sequence[str]],
    *,
    headers: Sequence[str] = HEADERS,
    encoding: str = "utf-8",
    bom: bool = False,
) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    data = buffer.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def upload(client: Client, content: bytes, name: str = "cards.csv", mapping: str = "", **extra: Any) -> Any:
    file = SimpleUploadedFile(name, content, content_type="text/csv")
    return client.post("/staff/cards/import/upload/", {"file": file, "mapping": mapping}, **extra)


def batch_id_of(response: Any) -> int:
    assert response.status_code == 302, response.content.decode()[:2000]
    return int(response["Location"].rstrip("/").split("/")[-1])
