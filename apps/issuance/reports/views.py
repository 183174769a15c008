"""Work lists (with CSV and bulk actions) and reports (page, CSV, PDF). docs/reports.md defines every figure.

Thin views: parse a form, call selectors (reads) or `services.cards_transition` (the only write), render. The
work lists show residents' personal data, so each page and each export is read through a selector that takes the
actor and records `personal_data.viewed`; the reports show counts only.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from apps.issuance.cards.selectors import bulk_preview
from apps.issuance.cards.services import (
    CardError,
    TransitionInput,
    cards_transition,
    refusal,
    settings_ensure,
)
from apps.issuance.models import Card, CardState
from apps.issuance.reports import selectors as sel
from apps.issuance.reports.exports import CsvTable, NotEncodableError, csv_response
from apps.issuance.reports.forms import (
    MAX_BULK,
    BulkConfirmForm,
    ExportForm,
    MonthForm,
    NoShowFilterForm,
    ReportForm,
)
from apps.issuance.reports.pdf import report_pdf
from apps.issuance.reports.presenters import (
    REPORT_TABLES,
    TABLE_FILES,
    TableData,
    cell_text,
    file_stamp,
    monthly_pdf_page,
    period_title,
    report_chart,
    report_pdf_page,
    summary_table,
)
from apps.issuance.reports.worklists import WORK_LISTS, ListContext, WorkList
from apps.issuance.states import ACTIONS
from apps.security.request_actor import request_actor
from apps.security.roles import ISSUE_CARDS, MANAGE_CARDS, VIEW_REPORTS, require_permission
from base.downloads import content_disposition

PER_PAGE = 100


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


def _export_table(
    request: HttpRequest, table: TableData, form: ExportForm, filename: str, ascii_filename: str
) -> HttpResponseBase:
    """A report's summary table (page, CSV and PDF share it) as CSV."""
    csv_table = CsvTable(
        headers=table.headers, rows=table.csv_rows(), filename=filename, ascii_filename=ascii_filename
    )
    return _export(request, csv_table, form)


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


def _list_page(
    request: HttpRequest, work_list: WorkList, *, form: NoShowFilterForm | None = None
) -> HttpResponse:
    if form is not None and not form.is_valid():
        context = {"work_list": work_list, "filter_form": form, "page": None}
        return render(request, "issuance/reports/list.html", context, status=400)
    ctx = _context(request, form)
    page = sel.work_list_page(
        work_list, ctx, page_number=request.GET.get("page"), per_page=PER_PAGE, actor=request_actor(request)
    )
    rows = [[cell_text(v) for v in work_list.cells(item, ctx)] for item in page.object_list]
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
    query = sel.work_list_export_rows(
        work_list, ctx, encoding=export.cleaned_data["encoding"], actor=request_actor(request)
    )
    table = CsvTable(
        headers=[str(h) for h in work_list.headers],
        rows=(work_list.cells(item, ctx) for item in query.iterator(chunk_size=2000)),
        filename=f"{work_list.filename}_{file_stamp()}",
        ascii_filename=f"{work_list.key}_{file_stamp()}",
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
        if work_list.period_filter:  # counted for this month so far
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


def _period_form(request: HttpRequest, work_list: WorkList) -> NoShowFilterForm | None:
    return NoShowFilterForm(request.GET) if work_list.period_filter else None


# Every work list is served by these three views, driven by its registry entry (worklists.WORK_LISTS); urls.py
# routes each list to them with its own key and permission.


@require_safe
def work_list_page(request: HttpRequest, key: str) -> HttpResponse:
    work_list = WORK_LISTS[key]
    return _list_page(request, work_list, form=_period_form(request, work_list))


@require_safe
def work_list_export(request: HttpRequest, key: str) -> HttpResponseBase:
    work_list = WORK_LISTS[key]
    return _list_export(request, work_list, form=_period_form(request, work_list))


@require_http_methods(["GET", "HEAD", "POST"])
def work_list_bulk(request: HttpRequest, key: str) -> HttpResponse:
    return _bulk(request, WORK_LISTS[key])


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
                actor=request_actor(request),
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
    ids = list(work_list.query(ctx).values_list("pk", flat=True)[:MAX_BULK])
    preview = bulk_preview(Card.objects.filter(pk__in=ids), action, shown=MAX_BULK)
    place = {pk: n for n, pk in enumerate(ids)}  # the skipped in the list's order (oldest first)
    skipping = sorted(preview.skipped, key=lambda card: place[card.pk])
    form = BulkConfirmForm(initial={"cards": ",".join(str(pk) for pk in ids)})
    context = {
        "work_list": work_list,
        "action": action,
        "form": form,
        "count": preview.total,
        "total": work_list.query(ctx).count() if len(ids) == MAX_BULK else len(ids),
        "will_do": preview.will_change,
        "will_skip": [(card.notice_number, refusal(action, card)) for card in skipping],
        "back": back,
        "limit": MAX_BULK,
    }
    return render(request, "issuance/reports/bulk_confirm.html", context)


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
        "period_title": period_title(unit, month),
        "chart": report_chart(report, "issued-chart"),
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
    return _export_table(
        request, table, export, f"交付集計_{TABLE_FILES[key]}_{stamp}", f"report-{key}-{stamp}"
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
    pdf = report_pdf(report_pdf_page(report, unit, month))
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
        "period_title": period_title(sel.MONTH, month),
        "chart": report_chart(report, "monthly-chart"),
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
    return _export_table(request, table, export, f"月次集計_{month:%Y%m}", f"monthly-{month:%Y%m}")


@require_permission(VIEW_REPORTS)
@require_safe
def monthly_pdf(request: HttpRequest) -> HttpResponse:
    form = MonthForm.from_query(request.GET)
    if not form.is_valid():
        return _invalid_report(request, form, "issuance/reports/monthly.html")
    month = form.month_value()
    report = sel.monthly_summary(month=month)
    pdf = report_pdf(monthly_pdf_page(report, month))
    return _pdf_response(pdf, f"月次集計_{month:%Y%m}", f"monthly-{month:%Y%m}")
