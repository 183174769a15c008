"""The monthly availability report as a page's tables, a CSV and a PDF: one set of rows for all three.

CSV and PDF are made by issuance's report helpers (apps.issuance.reports.exports and .pdf), as every report of the
project is: the same Excel-safe cells, file names and fonts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from apps.booking.calendar.hours import TOKYO
from apps.issuance.reports.charts import Bar
from apps.issuance.reports.exports import CsvTable
from apps.issuance.reports.pdf import PdfReport
from console.availability.selectors import Kind, ModuleReport, MonthReport


def percent_text(value: Decimal | None) -> str:
    return "—" if value is None else f"{value}%"


def moment_text(moment: datetime) -> str:
    return timezone.localtime(moment, TOKYO).strftime("%Y-%m-%d %H:%M")


def month_title(month: date) -> str:
    return _("%(year)d年%(month)d月") % {"year": month.year, "month": month.month}


def kind_text(kind: str) -> str:
    return _("記録なし（停止とみなす）") if kind == Kind.UNRECORDED else _("停止")


def summary_headers() -> list[str]:
    return [_("機能"), _("約束した時間（分）"), _("承認済みメンテナンス（分）"), _("停止（分）"), _("稼働率")]


def summary_row(module: ModuleReport) -> list[str]:
    return [
        module.label,
        str(module.committed),
        str(module.maintenance),
        str(module.down),
        percent_text(module.availability),
    ]


def interval_headers() -> list[str]:
    return [_("機能"), _("区分"), _("開始"), _("終了"), _("分")]


def interval_rows(report: MonthReport) -> Iterator[list[str]]:
    """Down intervals and approved maintenance, module by module, in time order."""
    for module in report.modules:
        rows = [(i.start, kind_text(i.kind), i.end, i.minutes) for i in module.down_intervals]
        rows += [
            (w.start, _("承認済みメンテナンス") + f"「{w.title}」", w.end, w.minutes) for w in module.windows
        ]
        for start, kind, end, minutes in sorted(rows, key=lambda row: row[0]):
            yield [module.label, kind, moment_text(start), moment_text(end), str(minutes)]


def period_text(report: MonthReport) -> str:
    text = _("%(city)s %(month)s（%(start)s〜%(end)s）") % {
        "city": report.city_name,
        "month": month_title(report.month),
        "start": moment_text(report.start),
        "end": moment_text(report.end),
    }
    return text if report.complete else text + _("・月の途中")


def file_names(report: MonthReport) -> tuple[str, str]:
    stamp = f"{report.month:%Y%m}"
    return f"稼働報告_{report.city_name}_{stamp}", f"availability-{report.slug}-{stamp}"


def csv_table(report: MonthReport) -> CsvTable:
    """One flat table: a summary line per module, then each interval (down or maintenance) on its own line."""
    headers = [*interval_headers(), *summary_headers()[1:]]

    def rows() -> Iterator[list[str]]:
        for module in report.modules:
            yield [
                module.label,
                _("月の集計"),
                moment_text(report.start),
                moment_text(report.end),
                "",
                *summary_row(module)[1:],
            ]
        for row in interval_rows(report):
            yield [*row, "", "", "", ""]

    name, ascii_name = file_names(report)
    return CsvTable(headers=headers, rows=rows(), filename=name, ascii_filename=ascii_name)


def down_bars(report: MonthReport) -> list[Bar]:
    """Down minutes of all modules, per day of the month (for the PDF's chart)."""
    days: dict[date, int] = {}
    for module in report.modules:
        for day, minutes in module.down_by_day.items():
            days[day] = days.get(day, 0) + minutes
    first = report.month
    count = (date(first.year + first.month // 12, first.month % 12 + 1, 1) - first).days
    return [
        Bar(label=str(n), title=f"{first.month}/{n}", value=days.get(date(first.year, first.month, n), 0))
        for n in range(1, count + 1)
    ]


def pdf_page(report: MonthReport) -> PdfReport:
    notes = [_("停止した時間と承認済みメンテナンス:")]
    notes += [" ".join(row) + _("分") for row in interval_rows(report)] or [_("なし")]
    notes.append(
        _(
            "稼働率＝（約束した時間−承認済みメンテナンス−停止）÷（約束した時間−承認済みメンテナンス）。"
            "監視の記録がない分は停止とみなします。予約とAPIは24時間、交付は市の開庁日・開庁時間が約束した時間です。"
        )
    )
    return PdfReport(
        title=_("稼働状況報告"),
        subtitle=period_text(report),
        chart_title=_("日別の停止時間（分、全機能の合計）"),
        bars=down_bars(report),
        headers=summary_headers(),
        rows=[summary_row(module) for module in report.modules],
        total_row=False,
        notes=notes,
    )
