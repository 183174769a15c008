"""Tables of the reports and work lists, shared by the page, the CSV and the PDF: cells, labels, the report's tables and
its chart. No request here: the views (views.py) parse and render, these shape what they show."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.booking.calendar.hours import TOKYO, WEEKDAYS
from apps.issuance.models import CardState, EventKind
from apps.issuance.reports import selectors as sel
from apps.issuance.reports.charts import Bar, bar_chart_svg
from apps.issuance.reports.pdf import PdfReport

# --- Cells shared by the page, the CSV and the PDF -----------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """A share (0..1) or None when there is nothing to divide by: "12.5%" on pages, 12.5 in CSV."""

    value: float | None

    def __str__(self) -> str:
        return "—" if self.value is None else f"{self.value * 100:.1f}%"

    def csv(self) -> str:
        return "" if self.value is None else f"{self.value * 100:.1f}"


def cell_text(value: Any) -> str:
    if isinstance(value, bool):
        return _("あり") if value else ""
    if isinstance(value, int):
        return f"{value:,}"
    if value is None:
        return "—"
    return str(value)


def csv_value(value: Any) -> Any:
    if isinstance(value, Rate):
        return value.csv()
    if isinstance(value, bool):
        return "1" if value else ""
    return value


@dataclass
class TableData:
    headers: list[str]
    rows: list[list[Any]]
    caption: str = ""
    total: list[Any] | None = None  # the total row, shown last

    def page_rows(self) -> list[list[str]]:
        return [[cell_text(v) for v in row] for row in self.rows]

    def page_total(self) -> list[str] | None:
        return [cell_text(v) for v in self.total] if self.total else None

    def csv_rows(self) -> Iterator[list[Any]]:
        for row in [*self.rows, *([self.total] if self.total else [])]:
            yield [csv_value(v) for v in row]


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return timezone.localtime(value, TOKYO).strftime(fmt) if value else ""


def day_label(day: date) -> str:
    return _("%(month)d月%(day)d日（%(weekday)s）") % {
        "month": day.month,
        "day": day.day,
        "weekday": WEEKDAYS[day.weekday()],
    }


def month_label(month: date) -> str:
    return _("%(year)d年%(month)d月") % {"year": month.year, "month": month.month}


def period_label(period: sel.Period, *, for_csv: bool = False) -> str:
    if period.unit == sel.DAY:
        return period.start.isoformat() if for_csv else day_label(period.start)
    return f"{period.start:%Y-%m}" if for_csv else month_label(period.start)


def city_name() -> str:
    tenant = getattr(connection, "tenant", None)
    return getattr(tenant, "name_ja", "") or ""


def file_stamp() -> str:
    return timezone.localtime(timezone.now(), TOKYO).strftime("%Y%m%d-%H%M")


# --- Reports -------------------------------------------------------------------------------------------------------

MAIN_EVENTS = [
    (EventKind.IMPORTED, gettext_lazy("受領")),
    (EventKind.SET_UP, gettext_lazy("交付前設定")),
    (EventKind.NOTICE_MAILED, gettext_lazy("通知書発送")),
    (EventKind.RETURNED_MAIL, gettext_lazy("返戻")),
    (EventKind.REMINDER, gettext_lazy("再通知")),
    (EventKind.BOOKED, gettext_lazy("予約")),
    (EventKind.NO_SHOW, gettext_lazy("不来庁（カード）")),
    (EventKind.ISSUED, gettext_lazy("交付")),
    (EventKind.RETENTION_EXPIRED, gettext_lazy("保管期限切れ")),
    (EventKind.DISPOSED, gettext_lazy("廃棄")),
]
SUMMARY_LABELS = {
    "received": gettext_lazy("受領"),
    "set_up": gettext_lazy("交付前設定"),
    "notified": gettext_lazy("通知書発送"),
    "issued": gettext_lazy("交付"),
    "returned_mail": gettext_lazy("返戻"),
    "disposed": gettext_lazy("廃棄"),
}


def period_header(unit: str) -> str:
    return _("日付") if unit == sel.DAY else _("月")


def daily_table(report: sel.Report, *, for_csv: bool = False) -> TableData:
    """The report's main table: card events by kind, then the booking side, one row per period, and the total."""
    headers = [
        period_header(report.unit),
        *(str(label) for _kind, label in MAIN_EVENTS),
        _("予約枠の席数"),
        _("予約された席数"),
        _("予約枠の利用率") + ("（%）" if for_csv else ""),
        _("来庁（完了）"),
        _("不来庁（予約）"),
        _("不来庁率") + ("（%）" if for_csv else ""),
    ]

    def cells(row: sel.ReportRow, label: str) -> list[Any]:
        return [
            label,
            *(row.events.get(kind, 0) for kind, _label in MAIN_EVENTS),
            row.seats_offered,
            row.seats_taken,
            Rate(row.seat_use),
            row.done,
            row.no_show,
            Rate(row.no_show_rate),
        ]

    return TableData(
        headers=headers,
        rows=[cells(row, period_label(row.period, for_csv=for_csv)) for row in report.rows],
        total=cells(report.total, _("合計")),
        caption=_("日別の集計") if report.unit == sel.DAY else _("月別の集計"),
    )


def states_table(report: sel.Report, *, for_csv: bool = False) -> TableData:
    states = list(CardState)
    return TableData(
        headers=[period_header(report.unit), *(str(state.label) for state in states)],
        rows=[
            [period_label(row.period, for_csv=for_csv), *(row.entered.get(state, 0) for state in states)]
            for row in report.rows
        ],
        total=[_("合計"), *(report.total.entered.get(state, 0) for state in states)],
        caption=_("状態別（その状態になったカードの数）"),
    )


def pivot_table(report: sel.Report, names: list[str], attr: str, caption: str, for_csv: bool) -> TableData:
    total = getattr(report.total, attr)
    return TableData(
        headers=[period_header(report.unit), *names, _("計")],
        rows=[
            [
                period_label(row.period, for_csv=for_csv),
                *(getattr(row, attr).get(name, 0) for name in names),
                sum(getattr(row, attr).values()),
            ]
            for row in report.rows
        ],
        total=[_("合計"), *(total.get(name, 0) for name in names), sum(total.values())],
        caption=caption,
    )


def kinds_table(report: sel.Report, *, for_csv: bool = False) -> TableData:
    return pivot_table(report, report.kinds, "issued_by_kind", _("申請の種類別の交付数"), for_csv)


def counters_table(report: sel.Report, *, for_csv: bool = False) -> TableData:
    return pivot_table(
        report, report.counters, "issued_by_counter", _("窓口別の交付数（予約の窓口）"), for_csv
    )


def summary_table(report: sel.Report, *, for_csv: bool = False) -> TableData:
    headers = [_("月"), *(str(SUMMARY_LABELS[key]) for key, _kind in sel.SUMMARY_EVENTS), _("月末の保管数")]
    rows = [
        [
            period_label(row.period, for_csv=for_csv),
            *(row.events.get(kind, 0) for _key, kind in sel.SUMMARY_EVENTS),
            row.on_hand_at_end,
        ]
        for row in report.rows
    ]
    total = report.total
    return TableData(
        headers=headers,
        rows=rows,
        total=[_("合計"), *(total.events.get(kind, 0) for _key, kind in sel.SUMMARY_EVENTS), ""],
        caption=_("月次集計"),
    )


REPORT_TABLES: dict[str, Callable[..., TableData]] = {
    "daily": daily_table,
    "states": states_table,
    "kinds": kinds_table,
    "counters": counters_table,
}
TABLE_FILES = {"daily": "集計", "states": "状態別", "kinds": "申請の種類別", "counters": "窓口別"}


def report_bars(report: sel.Report) -> list[Bar]:
    if report.unit == sel.DAY:
        return [
            Bar(str(row.period.start.day), day_label(row.period.start), row.issued) for row in report.rows
        ]
    return [Bar(str(row.period.start.month), period_label(row.period), row.issued) for row in report.rows]


def report_chart(report: sel.Report, chart_id: str) -> Any:
    total = report.total.issued
    peak = max(report.rows, key=lambda row: row.issued)
    if total:
        description = _("合計 %(total)d件。最も多いのは%(peak)sの%(count)d件。") % {
            "total": total,
            "peak": period_label(peak.period),
            "count": peak.issued,
        }
    else:
        description = _("この期間の交付はありません。")
    title = _("日別の交付数") if report.unit == sel.DAY else _("月別の交付数")
    return bar_chart_svg(
        bars=report_bars(report), title=title, description=description, unit=_("件"), chart_id=chart_id
    )


def period_title(unit: str, month: date) -> str:
    if unit == sel.DAY:
        return _("%(year)d年%(month)d月（日別）") % {"year": month.year, "month": month.month}
    first = sel.add_months(month, -11)
    return _("%(from)s〜%(to)s（月別）") % {
        "from": month_label(first),
        "to": month_label(month),
    }


# --- The reports as PDF: what each says (pdf.py draws it) ---------------------------------------------------------


def report_pdf_page(report: sel.Report, unit: str, month: date) -> PdfReport:
    """The report page's PDF: the chart and the daily (or monthly) table, landscape."""
    table = daily_table(report)
    return PdfReport(
        title=_("マイナンバーカード交付の集計"),
        subtitle=f"{city_name()}　{period_title(unit, month)}",
        chart_title=_("日別の交付数") if unit == sel.DAY else _("月別の交付数"),
        bars=report_bars(report),
        headers=table.headers,
        rows=[*table.page_rows(), table.page_total() or []],
        wide=True,
        notes=[
            _(
                "予約枠の利用率＝予約された席数÷予約枠の席数（受付停止の枠を除く）。不来庁率＝不来庁÷（来庁＋不来庁）。"
            )
        ],
    )


def monthly_pdf_page(report: sel.Report, month: date) -> PdfReport:
    """The monthly summary's PDF: the chart and the summary table."""
    table = summary_table(report)
    return PdfReport(
        title=_("マイナンバーカード交付 月次集計"),
        subtitle=f"{city_name()}　{period_title(sel.MONTH, month)}",
        chart_title=_("月別の交付数"),
        bars=report_bars(report),
        headers=table.headers,
        rows=[*table.page_rows(), table.page_total() or []],
        notes=[
            _(
                "月末の保管数＝その月の末日までに納品され、その時点で交付・本人へ郵送・取消・廃棄のいずれにも"
                "なっていないカードの数（カードの履歴から計算）。"
            )
        ],
    )
