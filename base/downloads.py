"""Downloads: the Content-Disposition of every download with a Japanese file name (CSV exports, notice and report
PDFs), and CSV cells that Excel will not run as formulas."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
_NOT_ASCII_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def content_disposition(name: str, fallback: str, *, inline: bool = False) -> str:
    """`name` (with its extension) in RFC 5987 form (`filename*`) for browsers that read it, and `fallback` made
    plain ASCII for the others. Neither can carry a quote, a slash or a line break."""
    real = _UNSAFE.sub("_", name).strip() or fallback
    ascii_name = _NOT_ASCII_SAFE.sub("_", fallback) or "download"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(real, safe='')}"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A CSV cell Excel will not run as a formula (the audit export and the other apps' exports use it)."""
    text = "" if value is None else str(value)
    # Excel runs a cell that starts like a formula; a login name such as "=HYPERLINK(...)" must stay text.
    return f"'{text}" if text.startswith(_FORMULA_START) else text
