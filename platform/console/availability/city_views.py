"""The city's side: its own availability report and the incidents that affected it (supervisors and auditors).

Read-only. The city is the request's tenant, never a parameter: another city's figures and incidents cannot be
asked for here, and an incident that does not name this city answers 404 as if it did not exist.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_safe

from apps.security.request_actor import request_actor
from apps.security.roles import VIEW_REPORTS, require_permission
from console.availability import responses, selectors
from console.availability.selectors import MonthReport

REPORT_TEMPLATE = "console/availability/city_report.html"


def _report(request: HttpRequest) -> MonthReport | HttpResponse:
    form = responses.month_form(request)
    if form.is_bound and not form.is_valid():
        return responses.bad_month(request, form, REPORT_TEMPLATE, {})
    actor = request_actor(request)
    city = selectors.city_by_id(actor, request.tenant.pk)  # type: ignore[attr-defined]
    return responses.report_for(actor, city, form)


@require_permission(VIEW_REPORTS)
@require_safe
def report(request: HttpRequest) -> HttpResponseBase:
    found = _report(request)
    if isinstance(found, HttpResponse):
        return found
    return render(
        request, REPORT_TEMPLATE, {"form": responses.month_form(request), **responses.page_context(found)}
    )


@require_permission(VIEW_REPORTS)
@require_safe
def report_csv(request: HttpRequest) -> HttpResponseBase:
    found = _report(request)
    return found if isinstance(found, HttpResponse) else responses.csv_download(found)


@require_permission(VIEW_REPORTS)
@require_safe
def report_pdf(request: HttpRequest) -> HttpResponseBase:
    found = _report(request)
    return found if isinstance(found, HttpResponse) else responses.pdf_download(found)


@require_permission(VIEW_REPORTS)
@require_safe
def incident_list(request: HttpRequest) -> HttpResponse:
    incidents = selectors.incidents_for_city(request_actor(request), request.tenant.pk)[:200]  # type: ignore[attr-defined]
    return render(request, "console/availability/city_incident_list.html", {"incidents": incidents})


@require_permission(VIEW_REPORTS)
@require_safe
def incident_detail(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = selectors.incident_for_city(request_actor(request), request.tenant.pk, incident_id)  # type: ignore[attr-defined]
    if incident is None:
        raise Http404
    return render(request, "console/availability/city_incident_detail.html", {"incident": incident})
