"""Work lists (with CSV and bulk actions) and reports (page, CSV, PDF). docs/reports.md defines every figure.

Thin views: parse a form, call selectors (reads) or `services.cards_transition` (the only write), render. The
work lists show residents' personal data, so each page and each export records `personal_data.viewed`; the
reports show counts only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from apps.booking.calendar.hours import TOKYO, WEEKDAYS
from apps.issuance import selectors_reports as sel
from apps.issuance.charts import Bar, bar_chart_svg
from apps.issuance.exports import CsvTable, NotEncodableError, csv_response
from apps.issuance.forms_reports import (
    MAX_BULK,
    BulkConfirmForm,
    ExportForm,
    MonthForm,
    NoShowFilterForm,
    ReportForm,
)
from apps.issuance.models import Card, CardEvent, CardState, EventKind
from apps.issuance.reports_pdf import PdfReport, report_pdf
from apps.issuance.services import CardError, TransitionInput, cards_transition, refusal, settings_ensure
from apps.issuance.states import ACTIONS
from apps.security.audit import audit_record
from apps.security.roles import ISSUE_CARDS, MANAGE_CARDS, VIEW_REPORTS, require_permission
from base.downloads import content_disposition

PER_PAGE = 100


# --- Cells shared by the page, the CSV and the PDF -----------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """A share (0..1) or None when there is nothing to divide by: "12.5%" on pages, 12.5 in CSV."""

    value: float | None

    def __str__(self) -> str:
        return "—" if self.value is None else f"{self.value * 100:.1f}%"

    def csv(self) -> str:
        return "" if self.value is None else f"{self.value * 100:.1f}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return _("あり") if value else ""
    if isinstance(value, int):
        return f"{value:,}"
    if value is None:
        return "—"
    return str(value)


def _csv_value(value: Any) -> Any:
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
        return [[_text(v) for v in row] for row in self.rows]

    def page_total(self) -> list[str] | None:
        return [_text(v) for v in self.total] if self.total else None

    def csv_rows(self) -> Iterator[list[Any]]:
        for row in [*self.rows, *([self.total] if self.total else [])]:
            yield [_csv_value(v) for v in row]


def _local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return timezone.localtime(value, TOKYO).strftime(fmt) if value else ""


def _day_label(day: date) -> str:
    return _("%(month)d月%(day)d日（%(weekday)s）") % {
        "month": day.month,
        "day": day.day,
        "weekday": WEEKDAYS[day.weekday()],
    }


def _month_label(month: date) -> str:
    return _("%(year)d年%(month)d月") % {"year": month.year, "month": month.month}


def _period_label(period: sel.Period, *, for_csv: bool = False) -> str:
    if period.unit == sel.DAY:
        return period.start.isoformat() if for_csv else _day_label(period.start)
    return f"{period.start:%Y-%m}" if for_csv else _month_label(period.start)


def _city_name() -> str:
    tenant = getattr(connection, "tenant", None)
    return getattr(tenant, "name_ja", "") or ""


def _stamp() -> str:
    return timezone.localtime(timezone.now(), TOKYO).strftime("%Y%m%d-%H%M")


def _export(request: HttpRequest, table: CsvTable, form: ExportForm) -> HttpResponseBase:
    """The CSV, or the page listing the lines cp932 cannot hold."""
    try:
        return csv_response(
            table,
            encoding=form.cleaned_data["encoding"],
            leave_out_unencodable=form.cleaned_data["leave_out"],
        )
    except NotEncodableError as refused:
        context = {"refused": refused, "filename": table.filename}
        return render(request, "issuance/reports/unencodable.html", context, status=409)


def _export_form(request: HttpRequest) -> ExportForm | None:
    form = ExportForm(request.GET)
    return form if form.is_valid() else None


def _bad_export(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "issuance/reports/bad_request.html",
        {"message": _("出力の文字コードを選び直してください。")},
        status=400,
    )


# --- Work lists ----------------------------------------------------------------------------------------------------

CARD_HEADERS = [
    gettext_lazy("交付通知書の番号"),
    gettext_lazy("氏名"),
    gettext_lazy("ふりがな"),
    gettext_lazy("生年月日"),
    gettext_lazy("郵便番号"),
    gettext_lazy("住所"),
    gettext_lazy("納品回"),
    gettext_lazy("納品日"),
    gettext_lazy("申請の種類"),
    gettext_lazy("状態"),
]


def _card_cells(card: Card) -> list[Any]:
    return [
        card.notice_number,
        card.name,
        card.kana,
        card.birth_date.isoformat(),
        card.postal_code,
        card.address,
        card.delivery_batch,
        card.delivery_date.isoformat(),
        card.application_kind,
        CardState(card.state).label,
    ]


@dataclass(frozen=True)
class ListContext:
    today: date
    weeks: int
    months: int
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class WorkList:
    key: str
    title: Promise
    filename: Promise
    permission: str
    headers: Sequence[Promise | str]
    query: Callable[[ListContext], QuerySet[Any]]
    cells: Callable[[Any, ListContext], list[Any]]
    rule: Callable[[ListContext], str]
    bulk_action: str | None = None


def _unclaimed_cells(card: Any, ctx: ListContext) -> list[Any]:
    waited = (ctx.today - timezone.localtime(card.waiting_since, TOKYO).date()).days // 7
    return [*_card_cells(card), _local(card.waiting_since, "%Y-%m-%d"), waited]


def _retention_cells(card: Card, ctx: ListContext) -> list[Any]:
    return [*_card_cells(card), sel.retention_end(card.delivery_date, ctx.months).isoformat()]


def _returned_cells(card: Card, ctx: ListContext) -> list[Any]:
    return [*_card_cells(card), _local(card.state_changed_at, "%Y-%m-%d")]


def _no_show_cells(event: CardEvent, ctx: ListContext) -> list[Any]:
    card = event.card
    return [
        card.notice_number,
        _local(event.at),
        card.name,
        card.kana,
        card.birth_date.isoformat(),
        CardState(card.state).label,
        event.data.get("reservation_code", "") if isinstance(event.data, dict) else "",
    ]


def _today_cells(card: Card, ctx: ListContext) -> list[Any]:
    reservation = card.reservation
    assert reservation is not None  # the query joins through it
    slot = reservation.slot
    return [
        card.notice_number,
        _local(slot.start, "%H:%M"),
        reservation.code,
        slot.counter_group.name,
        card.name,
        card.kana,
        card.birth_date.isoformat(),
    ]


WORK_LISTS: dict[str, WorkList] = {
    item.key: item
    for item in [
        WorkList(
            key="unclaimed",
            title=gettext_lazy("未受取（再通知の候補）"),
            filename=gettext_lazy("未受取一覧"),
            permission=MANAGE_CARDS,
            headers=[*CARD_HEADERS, gettext_lazy("通知書発送日"), gettext_lazy("経過週数")],
            query=lambda ctx: sel.unclaimed_cards(today=ctx.today, weeks=ctx.weeks),
            cells=_unclaimed_cells,
            rule=lambda ctx: (
                _(
                    "通知書を発送済で、最後の発送（再送・再通知を含む）が%(day)s以前（%(weeks)d週以上前）のカードです。"
                )
                % {
                    "day": sel.unclaimed_cutoff(today=ctx.today, weeks=ctx.weeks).isoformat(),
                    "weeks": ctx.weeks,
                }
            ),
            bulk_action="remind",
        ),
        WorkList(
            key="retention",
            title=gettext_lazy("保管期限の到来（廃棄の候補）"),
            filename=gettext_lazy("保管期限到来一覧"),
            permission=MANAGE_CARDS,
            headers=[*CARD_HEADERS, gettext_lazy("保管期限")],
            query=lambda ctx: sel.retention_cards(today=ctx.today, months=ctx.months),
            cells=_retention_cells,
            rule=lambda ctx: (
                _(
                    "まだ保管中（納品済・交付前設定済・通知書発送済・返戻）で、納品日から%(months)dか月が過ぎ"
                    "保管期限（納品日＋%(months)dか月）が今日以前のカードです。"
                )
                % {"months": ctx.months}
            ),
            bulk_action="expire",
        ),
        WorkList(
            key="returned",
            title=gettext_lazy("返戻"),
            filename=gettext_lazy("返戻一覧"),
            permission=MANAGE_CARDS,
            headers=[*CARD_HEADERS, gettext_lazy("返戻日")],
            query=lambda ctx: sel.returned_mail_cards(),
            cells=_returned_cells,
            rule=lambda ctx: _("通知書が返戻され、再送していないカードです。"),
        ),
        WorkList(
            key="no-shows",
            title=gettext_lazy("不来庁"),
            filename=gettext_lazy("不来庁一覧"),
            permission=MANAGE_CARDS,
            headers=[
                gettext_lazy("交付通知書の番号"),
                gettext_lazy("不来庁の日時"),
                gettext_lazy("氏名"),
                gettext_lazy("ふりがな"),
                gettext_lazy("生年月日"),
                gettext_lazy("現在の状態"),
                gettext_lazy("予約番号"),
            ],
            query=lambda ctx: sel.no_show_events(
                date_from=ctx.date_from or ctx.today, date_to=ctx.date_to or ctx.today
            ),
            cells=_no_show_cells,
            rule=lambda ctx: (
                _("%(start)s から %(end)s までに不来庁が記録されたカードです（新しい順）。")
                % {"start": ctx.date_from, "end": ctx.date_to}
            ),
        ),
        WorkList(
            key="today",
            title=gettext_lazy("本日の受取予定"),
            filename=gettext_lazy("本日の受取予定"),
            permission=ISSUE_CARDS,
            headers=[
                gettext_lazy("交付通知書の番号"),
                gettext_lazy("時刻"),
                gettext_lazy("予約番号"),
                gettext_lazy("窓口"),
                gettext_lazy("氏名"),
                gettext_lazy("ふりがな"),
                gettext_lazy("生年月日"),
            ],
            query=lambda ctx: sel.expected_pickups(day=ctx.today),
            cells=_today_cells,
            rule=lambda ctx: (
                _("予約済のカードのうち、予約の時間帯が今日（%(day)s）のものです（時刻順）。")
                % {"day": ctx.today.isoformat()}
            ),
        ),
    ]
}


def _context(request: HttpRequest, form: NoShowFilterForm | None = None) -> ListContext:
    policy = settings_ensure()
    start, end = form.period() if form is not None else (None, None)
    return ListContext(
        today=timezone.localdate(),
        weeks=policy.reminder_after_weeks,
        months=policy.retention_months,
        date_from=start,
        date_to=end,
    )


def _viewed(request: HttpRequest, work_list: WorkList, summary: str) -> None:
    audit_record(
        action="personal_data.viewed",
        request=request,
        target=f"issuance:list:{work_list.key}",
        summary=summary,
    )


def _list_page(
    request: HttpRequest, work_list: WorkList, *, form: NoShowFilterForm | None = None
) -> HttpResponse:
    if form is not None and not form.is_valid():
        context = {"work_list": work_list, "filter_form": form, "page": None}
        return render(request, "issuance/reports/list.html", context, status=400)
    ctx = _context(request, form)
    page = Paginator(work_list.query(ctx), PER_PAGE).get_page(request.GET.get("page"))
    rows = [[_text(v) for v in work_list.cells(item, ctx)] for item in page.object_list]
    _viewed(
        request,
        work_list,
        _("%(title)s（%(count)d件中 %(shown)d件を表示）")
        % {"title": work_list.title, "count": page.paginator.count, "shown": len(rows)},
    )
    bulk = ACTIONS[work_list.bulk_action] if work_list.bulk_action else None
    context = {
        "work_list": work_list,
        "headers": work_list.headers,
        "rows": rows,
        "page": page,
        "rule": work_list.rule(ctx),
        "filter_form": form,
        "bulk": bulk if bulk and request.user.has_perm(MANAGE_CARDS) else None,
        "bulk_url": reverse(f"issuance_reports:{work_list.key}_bulk") if bulk else "",
        "export_url": reverse(f"issuance_reports:{work_list.key}_export"),
        "export_keep": [(name, request.GET[name]) for name in ("from", "to") if request.GET.get(name)],
    }
    return render(request, "issuance/reports/list.html", context)


def _list_export(
    request: HttpRequest, work_list: WorkList, *, form: NoShowFilterForm | None = None
) -> HttpResponseBase:
    export = _export_form(request)
    if export is None or (form is not None and not form.is_valid()):
        return _bad_export(request)
    ctx = _context(request, form)
    query = work_list.query(ctx)
    encoding = export.cleaned_data["encoding"]
    _viewed(
        request,
        work_list,
        _("%(title)sをCSVで出力（%(encoding)s、%(count)d件）")
        % {"title": work_list.title, "encoding": encoding, "count": query.count()},
    )
    table = CsvTable(
        headers=[str(h) for h in work_list.headers],
        rows=(work_list.cells(item, ctx) for item in query.iterator(chunk_size=2000)),
        filename=f"{work_list.filename}_{_stamp()}",
        ascii_filename=f"{work_list.key}_{_stamp()}",
    )
    return _export(request, table, export)


@require_permission(ISSUE_CARDS)
@require_safe
def lists_index(request: HttpRequest) -> HttpResponse:
    """The work lists with their counts (the counts show no personal data)."""
    ctx = _context(request)
    may_manage = request.user.has_perm(MANAGE_CARDS)
    today_from = ctx.today.replace(day=1)
    items = []
    for work_list in WORK_LISTS.values():
        if work_list.permission == MANAGE_CARDS and not may_manage:
            continue
        list_ctx = ctx
        if work_list.key == "no-shows":
            list_ctx = ListContext(ctx.today, ctx.weeks, ctx.months, today_from, ctx.today)
        items.append(
            {
                "work_list": work_list,
                "count": work_list.query(list_ctx).count(),
                "url": reverse(f"issuance_reports:{work_list.key}"),
                "rule": work_list.rule(list_ctx),
            }
        )
    return render(request, "issuance/reports/lists_index.html", {"items": items, "policy": ctx})


@require_permission(MANAGE_CARDS)
@require_safe
def unclaimed(request: HttpRequest) -> HttpResponse:
    return _list_page(request, WORK_LISTS["unclaimed"])


@require_permission(MANAGE_CARDS)
@require_safe
def unclaimed_export(request: HttpRequest) -> HttpResponseBase:
    return _list_export(request, WORK_LISTS["unclaimed"])


@require_permission(MANAGE_CARDS)
@require_safe
def retention(request: HttpRequest) -> HttpResponse:
    return _list_page(request, WORK_LISTS["retention"])


@require_permission(MANAGE_CARDS)
@require_safe
def retention_export(request: HttpRequest) -> HttpResponseBase:
    return _list_export(request, WORK_LISTS["retention"])


@require_permission(MANAGE_CARDS)
@require_safe
def returned(request: HttpRequest) -> HttpResponse:
    return _list_page(request, WORK_LISTS["returned"])


@require_permission(MANAGE_CARDS)
@require_safe
def returned_export(request: HttpRequest) -> HttpResponseBase:
    return _list_export(request, WORK_LISTS["returned"])


@require_permission(MANAGE_CARDS)
@require_safe
def no_shows(request: HttpRequest) -> HttpResponse:
    return _list_page(request, WORK_LISTS["no-shows"], form=NoShowFilterForm(request.GET))


@require_permission(MANAGE_CARDS)
@require_safe
def no_shows_export(request: HttpRequest) -> HttpResponseBase:
    return _list_export(request, WORK_LISTS["no-shows"], form=NoShowFilterForm(request.GET))


@require_permission(ISSUE_CARDS)
@require_safe
def today(request: HttpRequest) -> HttpResponse:
    return _list_page(request, WORK_LISTS["today"])


@require_permission(ISSUE_CARDS)
@require_safe
def today_export(request: HttpRequest) -> HttpResponseBase:
    return _list_export(request, WORK_LISTS["today"])


# --- Bulk actions from a list --------------------------------------------------------------------------------------


def _bulk(request: HttpRequest, work_list: WorkList) -> HttpResponse:
    """GET: what the action would do to the list's cards (oldest first, at most MAX_BULK); POST: do it to the
    cards the confirmation showed that are still on the list, and show what was done and what was skipped."""
    assert work_list.bulk_action is not None
    action = ACTIONS[work_list.bulk_action]
    ctx = _context(request)
    back = reverse(f"issuance_reports:{work_list.key}")
    if request.method == "POST":
        form = BulkConfirmForm(request.POST)
        if not form.is_valid():
            context = {"work_list": work_list, "action": action, "form": form, "back": back, "count": 0}
            return render(request, "issuance/reports/bulk_confirm.html", context, status=400)
        asked: list[int] = form.cleaned_data["cards"]
        on_list = set(work_list.query(ctx).filter(pk__in=asked).values_list("pk", flat=True))
        gone = Card.objects.filter(pk__in=set(asked) - on_list).values_list("notice_number", flat=True)
        try:
            result = cards_transition(
                card_ids=sorted(on_list),
                change=TransitionInput(action=action.name, data={"work_list": work_list.key}),
                actor=request.user,
                request=request,
            )
        except CardError as exc:
            context = {
                "work_list": work_list,
                "action": action,
                "form": form,
                "back": back,
                "error": str(exc),
            }
            return render(request, "issuance/reports/bulk_confirm.html", context, status=409)
        skipped = [*result.skipped, *((number, _("一覧の対象から外れていました。")) for number in gone)]
        context = {
            "work_list": work_list,
            "action": action,
            "done": result.done,
            "skipped": skipped,
            "back": back,
        }
        return render(request, "issuance/reports/bulk_result.html", context)
    cards = list(work_list.query(ctx)[:MAX_BULK])
    problems = [(card.notice_number, why) for card in cards if (why := refusal(action, card))]
    total = work_list.query(ctx).count() if len(cards) == MAX_BULK else len(cards)
    form = BulkConfirmForm(initial={"cards": ",".join(str(card.pk) for card in cards)})
    context = {
        "work_list": work_list,
        "action": action,
        "form": form,
        "count": len(cards),
        "total": total,
        "will_do": len(cards) - len(problems),
        "will_skip": problems,
        "back": back,
        "limit": MAX_BULK,
    }
    return render(request, "issuance/reports/bulk_confirm.html", context)


@require_permission(MANAGE_CARDS)
@require_http_methods(["GET", "HEAD", "POST"])
def unclaimed_remind(request: HttpRequest) -> HttpResponse:
    return _bulk(request, WORK_LISTS["unclaimed"])


@require_permission(MANAGE_CARDS)
@require_http_methods(["GET", "HEAD", "POST"])
def retention_expire(request: HttpRequest) -> HttpResponse:
    return _bulk(request, WORK_LISTS["retention"])


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


def _period_header(unit: str) -> str:
    return _("日付") if unit == sel.DAY else _("月")


def daily_table(report: sel.Report, *, for_csv: bool = False) -> TableData:
    """The report's main table: card events by kind, then the booking side, one row per period, and the total."""
    headers = [
        _period_header(report.unit),
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
        rows=[cells(row, _period_label(row.period, for_csv=for_csv)) for row in report.rows],
        total=cells(report.total, _("合計")),
        caption=_("日別の集計") if report.unit == sel.DAY else _("月別の集計"),
    )


def states_table(report: sel.Report, *, for_csv: bool = False) -> TableData:
    states = list(CardState)
    return TableData(
        headers=[_period_header(report.unit), *(str(state.label) for state in states)],
        rows=[
            [_period_label(row.period, for_csv=for_csv), *(row.entered.get(state, 0) for state in states)]
            for row in report.rows
        ],
        total=[_("合計"), *(report.total.entered.get(state, 0) for state in states)],
        caption=_("状態別（その状態になったカードの数）"),
    )


def _pivot(report: sel.Report, names: list[str], attr: str, caption: str, for_csv: bool) -> TableData:
    total = getattr(report.total, attr)
    return TableData(
        headers=[_period_header(report.unit), *names, _("計")],
        rows=[
            [
                _period_label(row.period, for_csv=for_csv),
                *(getattr(row, attr).get(name, 0) for name in names),
                sum(getattr(row, attr).values()),
            ]
            for row in report.rows
        ],
        total=[_("合計"), *(total.get(name, 0) for name in names), sum(total.values())],
        caption=caption,
    )


def kinds_table(report: sel.Report, *, for_csv: bool = False) -> TableData:
    return _pivot(report, report.kinds, "issued_by_kind", _("申請の種類別の交付数"), for_csv)


def counters_table(report: sel.Report, *, for_csv: bool = False) -> TableData:
    return _pivot(report, report.counters, "issued_by_counter", _("窓口別の交付数（予約の窓口）"), for_csv)


def summary_table(report: sel.Report, *, for_csv: bool = False) -> TableData:
    headers = [_("月"), *(str(SUMMARY_LABELS[key]) for key, _kind in sel.SUMMARY_EVENTS), _("月末の保管数")]
    rows = [
        [
            _period_label(row.period, for_csv=for_csv),
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


def _bars(report: sel.Report) -> list[Bar]:
    if report.unit == sel.DAY:
        return [
            Bar(str(row.period.start.day), _day_label(row.period.start), row.issued) for row in report.rows
        ]
    return [Bar(str(row.period.start.month), _period_label(row.period), row.issued) for row in report.rows]


def _chart(report: sel.Report, chart_id: str) -> Any:
    total = report.total.issued
    peak = max(report.rows, key=lambda row: row.issued)
    if total:
        description = _("合計 %(total)d件。最も多いのは%(peak)sの%(count)d件。") % {
            "total": total,
            "peak": _period_label(peak.period),
            "count": peak.issued,
        }
    else:
        description = _("この期間の交付はありません。")
    title = _("日別の交付数") if report.unit == sel.DAY else _("月別の交付数")
    return bar_chart_svg(
        bars=_bars(report), title=title, description=description, unit=_("件"), chart_id=chart_id
    )


def _period_title(unit: str, month: date) -> str:
    if unit == sel.DAY:
        return _("%(year)d年%(month)d月（日別）") % {"year": month.year, "month": month.month}
    first = sel.add_months(month, -11)
    return _("%(from)s〜%(to)s（月別）") % {
        "from": _month_label(first),
        "to": _month_label(month),
    }


def _invalid_report(request: HttpRequest, form: Any, template: str) -> HttpResponse:
    return render(request, template, {"form": form, "report": None}, status=400)


@require_permission(VIEW_REPORTS)
@require_safe
def report_page(request: HttpRequest) -> HttpResponse:
    form = ReportForm.from_query(request.GET)
    if not form.is_valid():
        return _invalid_report(request, form, "issuance/reports/report.html")
    unit, month = form.values()
    report = sel.report(unit=unit, month=month)
    states_now = [(state.label, report.states_now.get(state, 0)) for state in CardState]
    tables = [(key, builder(report)) for key, builder in REPORT_TABLES.items()]
    context = {
        "form": form,
        "report": report,
        "period_title": _period_title(unit, month),
        "chart": _chart(report, "issued-chart"),
        "tables": tables,
        "states_now": states_now,
        "states_now_total": sum(count for _label, count in states_now),
        "export_keep": [("unit", unit), ("month", f"{month:%Y-%m}")],
        "export_tables": [(key, table.caption) for key, table in tables],
    }
    return render(request, "issuance/reports/report.html", context)


@require_permission(VIEW_REPORTS)
@require_safe
def report_export(request: HttpRequest) -> HttpResponseBase:
    form, export = ReportForm.from_query(request.GET), _export_form(request)
    key = request.GET.get("table") or "daily"
    if export is None or key not in REPORT_TABLES:
        return _bad_export(request)
    if not form.is_valid():
        return _invalid_report(request, form, "issuance/reports/report.html")
    unit, month = form.values()
    table = REPORT_TABLES[key](sel.report(unit=unit, month=month), for_csv=True)
    stamp = f"{month:%Y%m}-{unit}"
    return _export(
        request,
        CsvTable(
            headers=table.headers,
            rows=table.csv_rows(),
            filename=f"交付集計_{TABLE_FILES[key]}_{stamp}",
            ascii_filename=f"report-{key}-{stamp}",
        ),
        export,
    )


def _pdf_response(data: bytes, name: str, ascii_name: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition(f"{name}.pdf", f"{ascii_name}.pdf", inline=True)
    return response


@require_permission(VIEW_REPORTS)
@require_safe
def report_pdf_view(request: HttpRequest) -> HttpResponse:
    form = ReportForm.from_query(request.GET)
    if not form.is_valid():
        return _invalid_report(request, form, "issuance/reports/report.html")
    unit, month = form.values()
    report = sel.report(unit=unit, month=month)
    table = daily_table(report)
    pdf = report_pdf(
        PdfReport(
            title=_("マイナンバーカード交付の集計"),
            subtitle=f"{_city_name()}　{_period_title(unit, month)}",
            chart_title=_("日別の交付数") if unit == sel.DAY else _("月別の交付数"),
            bars=_bars(report),
            headers=table.headers,
            rows=[*table.page_rows(), table.page_total() or []],
            wide=True,
            notes=[
                _(
                    "予約枠の利用率＝予約された席数÷予約枠の席数（受付停止の枠を除く）。不来庁率＝不来庁÷（来庁＋不来庁）。"
                )
            ],
        )
    )
    return _pdf_response(pdf, f"交付集計_{month:%Y%m}_{unit}", f"report-{month:%Y%m}-{unit}")


@require_permission(VIEW_REPORTS)
@require_safe
def monthly(request: HttpRequest) -> HttpResponse:
    form = MonthForm.from_query(request.GET)
    if not form.is_valid():
        return _invalid_report(request, form, "issuance/reports/monthly.html")
    month = form.month_value()
    report = sel.monthly_summary(month=month)
    context = {
        "form": form,
        "report": report,
        "period_title": _period_title(sel.MONTH, month),
        "chart": _chart(report, "monthly-chart"),
        "table": summary_table(report),
        "export_keep": [("month", f"{month:%Y-%m}")],
    }
    return render(request, "issuance/reports/monthly.html", context)


@require_permission(VIEW_REPORTS)
@require_safe
def monthly_export(request: HttpRequest) -> HttpResponseBase:
    form, export = MonthForm.from_query(request.GET), _export_form(request)
    if export is None:
        return _bad_export(request)
    if not form.is_valid():
        return _invalid_report(request, form, "issuance/reports/monthly.html")
    month = form.month_value()
    table = summary_table(sel.monthly_summary(month=month), for_csv=True)
    return _export(
        request,
        CsvTable(
            headers=table.headers,
            rows=table.csv_rows(),
            filename=f"月次集計_{month:%Y%m}",
            ascii_filename=f"monthly-{month:%Y%m}",
        ),
        export,
    )


@require_permission(VIEW_REPORTS)
@require_safe
def monthly_pdf(request: HttpRequest) -> HttpResponse:
    form = MonthForm.from_query(request.GET)
    if not form.is_valid():
        return _invalid_report(request, form, "issuance/reports/monthly.html")
    month = form.month_value()
    report = sel.monthly_summary(month=month)
    table = summary_table(report)
    pdf = report_pdf(
        PdfReport(
            title=_("マイナンバーカード交付 月次集計"),
            subtitle=f"{_city_name()}　{_period_title(sel.MONTH, month)}",
            chart_title=_("月別の交付数"),
            bars=_bars(report),
            headers=table.headers,
            rows=[*table.page_rows(), table.page_total() or []],
            notes=[
                _(
                    "月末の保管数＝その月の末日までに納品され、その時点で交付・本人へ郵送・取消・廃棄のいずれにも"
                    "なっていないカードの数（カードの履歴から計算）。"
                )
            ],
        )
    )
    return _pdf_response(pdf, f"月次集計_{month:%Y%m}", f"monthly-{month:%Y%m}")
