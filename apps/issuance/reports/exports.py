"""CSV for Excel users, in the encoding chosen on export (docs/reports.md, "Exports").

- UTF-8 with a BOM: every character fits, so the file is streamed as it is read (long lists, constant memory).
- cp932 (Windows Shift_JIS, encoded with `cp932`, never `shift_jis`, which fails on ①, ㈱, 髙 and 﨑): some
  characters (𠮷, 𩸽, an em dash) have no cp932 code, and replacing them with '?' would silently change a
  resident's name. So the whole file is written first into a temporary file (in memory, spilling to disk when
  large) while each line is checked; when a line cannot be encoded the export is refused with `NotEncodableError`,
  listing each such line, its column and the characters, and the page offers UTF-8 with a BOM or, if the user
  asks for it, the cp932 file without those lines.

Every cell that starts like a formula (= + - @, tab, CR) gets a leading apostrophe, the audit log's guard.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.http import StreamingHttpResponse
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import schema_context

from base import downloads
from base.japanese import cp932_unencodable
from tenants.db import current_schema

UTF8_BOM = "utf8"
CP932 = "cp932"
ENCODING_CHOICES = [(UTF8_BOM, _("UTF-8（BOM付き）")), (CP932, _("Shift_JIS（cp932）"))]
PROBLEMS_SHOWN = 200  # lines listed on the refusal page; the count says how many there are in all
SPOOL_BYTES = 8 * 1024 * 1024  # a cp932 file larger than this is spooled to an unnamed temporary file
_LINES_PER_CHUNK = 200
_READ_BYTES = 64 * 1024


@dataclass
class CsvTable:
    """What to export: the header row and the rows (an iterable read once, e.g. a queryset's iterator)."""

    headers: Sequence[str]
    rows: Iterable[Sequence[Any]]
    filename: str  # what the user's browser saves, may be Japanese, without ".csv"
    ascii_filename: str  # the fallback for old clients: letters, digits, "-", "_" and "."


@dataclass(frozen=True)
class Unencodable:
    """One cell cp932 cannot hold. `line` counts the header as line 1, as in the UTF-8 file of the same list."""

    line: int
    key: str  # the line's first cell (a notice number or a date), to find it by
    column: str
    characters: str

    @property
    def code_points(self) -> str:
        return " ".join(f"U+{ord(ch):04X}" for ch in self.characters)


@dataclass
class NotEncodableError(Exception):
    """A cp932 export refused: `lines` is how many lines hold such characters, `problems` the first of them."""

    problems: list[Unencodable] = field(default_factory=list)
    lines: int = 0

    @property
    def shown_lines(self) -> int:
        return len({problem.line for problem in self.problems})

    def __str__(self) -> str:
        return f"{self.lines} line(s) not encodable in cp932"


def cell(value: Any) -> str:
    """A value as CSV text Excel will not run as a formula; None is an empty cell."""
    return downloads.csv_cell("" if value is None else value)


class _Line:
    """csv.writer's file: hands back each written line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _writer() -> Any:
    # Excel's dialect: CRLF line ends, quotes only where needed.
    return csv.writer(_Line())


def content_disposition(filename: str, ascii_filename: str) -> str:
    """A CSV attachment's header: the Japanese name, and an ASCII fallback (`base.downloads`)."""
    return downloads.content_disposition(f"{filename}.csv", f"{ascii_filename or 'export'}.csv")


def csv_response(
    table: CsvTable, *, encoding: str, leave_out_unencodable: bool = False
) -> StreamingHttpResponse:
    """The export as a download. cp932 raises NotEncodableError unless every line fits or the user chose to leave
    the lines that do not fit out (they were listed to them on the refusal page)."""
    if encoding == CP932:
        response = _cp932_response(table, leave_out=leave_out_unencodable)
    else:
        response = StreamingHttpResponse(
            _in_schema(current_schema(), _utf8_chunks(table)), content_type="text/csv; charset=utf-8"
        )
    response["Content-Disposition"] = content_disposition(table.filename, table.ascii_filename)
    response["Cache-Control"] = "no-store"  # personal data: no copy in a shared cache or the browser's
    return response


def _utf8_chunks(table: CsvTable) -> Iterator[str]:
    writer = _writer()
    chunk = ["\ufeff", writer.writerow([cell(h) for h in table.headers])]
    for row in table.rows:
        chunk.append(writer.writerow([cell(v) for v in row]))
        if len(chunk) >= _LINES_PER_CHUNK:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def _in_schema(schema: str, chunks: Iterator[Any]) -> Iterator[Any]:
    # A streamed body is read after the tenant middleware has returned: pin the schema it was asked in.
    with schema_context(schema):
        yield from chunks


def cp932_problems(line: int, cells: Sequence[str], headers: Sequence[str]) -> list[Unencodable]:
    """The cells of one line that cp932 cannot hold, each with its characters."""
    key = cells[0] if cells else ""
    found = []
    for index, text in enumerate(cells):
        bad = cp932_unencodable(text)
        if bad:
            column = headers[index] if index < len(headers) else str(index + 1)
            found.append(Unencodable(line=line, key=key, column=str(column), characters=bad))
    return found


def _cp932_response(table: CsvTable, *, leave_out: bool) -> StreamingHttpResponse:
    writer = _writer()
    headers = [cell(h) for h in table.headers]
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed by _read)
    try:
        refused = NotEncodableError()
        spool.write(writer.writerow(headers).encode(CP932))
        for line, row in enumerate(table.rows, start=2):
            cells = [cell(v) for v in row]
            text = writer.writerow(cells)
            try:
                spool.write(text.encode(CP932))
            except UnicodeEncodeError:
                refused.lines += 1
                if len(refused.problems) < PROBLEMS_SHOWN:
                    refused.problems.extend(cp932_problems(line, cells, headers))
        if refused.lines and not leave_out:
            raise refused
        size = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    response = StreamingHttpResponse(_read(spool), content_type="text/csv; charset=cp932")
    response["Content-Length"] = str(size)
    return response


def _read(spool: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := spool.read(_READ_BYTES):
            yield chunk
    finally:
        spool.close()
