"""What the console's and the city's report pages share: the month's report from a request, and its downloads."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils import timezone

from apps.issuance.reports.exports import UTF8_BOM, csv_response
from apps.issuance.reports.pdf import report_pdf
from apps.security.actors import Actor
from base.downloads import content_disposition
from console.availability import presenters
from console.availability.forms import MonthForm
from console.availability.selectors import MonthReport, availability_report
from tenants.models import Municipality


def month_form(request: HttpRequest) -> MonthForm:
    return MonthForm(request.GET if "month" in request.GET else None)


def report_for(actor: Actor, city: Municipality, form: MonthForm) -> MonthReport:
    return availability_report(actor, municipality=city, month=form.month_or_this(), now=timezone.now())


def bad_month(
    request: HttpRequest, form: MonthForm, template: str, context: dict[str, object]
) -> HttpResponse:
    return render(request, template, {**context, "form": form, "report": None}, status=400)


def page_context(report: MonthReport) -> dict[str, object]:
    return {
        "report": report,
        "period": presenters.period_text(report),
        "summary_headers": presenters.summary_headers(),
        "summary_rows": [presenters.summary_row(module) for module in report.modules],
        "interval_headers": presenters.interval_headers(),
        "interval_rows": list(presenters.interval_rows(report)),
        "month_value": f"{report.month:%Y-%m}",
    }


def csv_download(report: MonthReport) -> HttpResponseBase:
    return csv_response(presenters.csv_table(report), encoding=UTF8_BOM)


def pdf_download(report: MonthReport) -> HttpResponse:
    name, ascii_name = presenters.file_names(report)
    response = HttpResponse(report_pdf(presenters.pdf_page(report)), content_type="application/pdf")
    response["Content-Disposition"] = content_disposition(f"{name}.pdf", f"{ascii_name}.pdf", inline=True)
    response["Cache-Control"] = "no-store"
    return response
