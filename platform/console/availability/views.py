"""The console's availability report (support and up, any city) and incidents (recorded by operators and up)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from console.access import VendorRole, role_allows, vendor_view
from console.availability import responses, selectors
from console.availability.forms import IncidentEntryForm, IncidentForm, incident_initial
from console.availability.models import Incident
from console.availability.services import IncidentInput, incident_entry_add, incident_record, incident_update

REPORT_TEMPLATE = "console/availability/report.html"
SLUG = re.compile(r"[a-z][a-z0-9]{1,30}")  # tenants.models.slug_validator's: anything else names no city


def _report_or_form(request: HttpRequest) -> tuple[Any, HttpResponseBase | None]:
    """The report asked for, or the page to answer instead (no city chosen yet, an unknown city, a bad month)."""
    form = responses.month_form(request)
    slug = request.GET.get("city", "").strip()[:31]
    context: dict[str, object] = {"form": form, "city_slug": slug, "report": None}
    if not slug:
        return None, render(request, REPORT_TEMPLATE, context)
    city = selectors.city_for_report(request.actor, slug) if SLUG.fullmatch(slug) else None  # type: ignore[attr-defined]
    if city is None:
        return None, render(request, REPORT_TEMPLATE, {**context, "unknown_city": True}, status=404)
    if form.is_bound and not form.is_valid():
        return None, responses.bad_month(request, form, REPORT_TEMPLATE, context)
    return responses.report_for(request.actor, city, form), None  # type: ignore[attr-defined]


@vendor_view(VendorRole.SUPPORT)
@require_safe
def report(request: HttpRequest) -> HttpResponseBase:
    found, answer = _report_or_form(request)
    if answer is not None:
        return answer
    context = {
        "form": responses.month_form(request),
        "city_slug": found.slug,
        **responses.page_context(found),
    }
    return render(request, REPORT_TEMPLATE, context)


@vendor_view(VendorRole.SUPPORT)
@require_safe
def report_csv(request: HttpRequest) -> HttpResponseBase:
    found, answer = _report_or_form(request)
    return answer if answer is not None else responses.csv_download(found)


@vendor_view(VendorRole.SUPPORT)
@require_safe
def report_pdf(request: HttpRequest) -> HttpResponseBase:
    found, answer = _report_or_form(request)
    return answer if answer is not None else responses.pdf_download(found)


# --- Incidents ---------------------------------------------------------------------------------------------------


def _input(form: IncidentForm) -> IncidentInput:
    data = form.cleaned_data
    return IncidentInput(
        title=data["title"],
        received_at=data["received_at"],
        received_via=data["received_via"],
        severity=data["severity"],
        status=data["status"],
        municipality_ids=data["municipality_ids"],
        modules=data["modules"],
        cause=data["cause"],
        resolution=data["resolution"],
        resolved_at=data["resolved_at"],
    )


def _saved(form: IncidentForm, save: Callable[[IncidentInput], Incident]) -> Incident | None:
    """Run the service; its refusals become the form's errors (the input stays on the page)."""
    try:
        return save(_input(form))
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
        return None


@vendor_view(VendorRole.SUPPORT)
@require_safe
def incident_list(request: HttpRequest) -> HttpResponse:
    context = {
        "incidents": selectors.incidents_for_console(request.actor)[:200],  # type: ignore[attr-defined]
        "can_record": role_allows(request.vendor_role, VendorRole.OPERATOR),  # type: ignore[attr-defined]
    }
    return render(request, "console/availability/incident_list.html", context)


@vendor_view(VendorRole.OPERATOR)
@require_http_methods(["GET", "HEAD", "POST"])
def incident_new(request: HttpRequest) -> HttpResponseBase:
    form = IncidentForm(request.POST or None, initial={"received_at": timezone.localtime().replace(second=0)})
    if request.method == "POST" and form.is_valid():
        incident = _saved(form, lambda data: incident_record(request.actor, data=data))  # type: ignore[attr-defined]
        if incident is not None:
            return HttpResponseRedirect(reverse("console:availability:incident", args=[incident.pk]))
    status = 400 if request.method == "POST" else 200
    return render(request, "console/availability/incident_form.html", {"form": form}, status=status)


def _incident(request: HttpRequest, incident_id: int) -> Incident:
    incident = selectors.incident_for_console(request.actor, incident_id)  # type: ignore[attr-defined]
    if incident is None:
        raise Http404
    return incident


def _detail(request: HttpRequest, incident: Incident, status: int = 200, **forms: object) -> HttpResponse:
    can_edit = role_allows(request.vendor_role, VendorRole.OPERATOR)  # type: ignore[attr-defined]
    context: dict[str, object] = {"incident": incident, "can_edit": can_edit}
    if can_edit:
        context["form"] = forms.get("form") or IncidentForm(initial=incident_initial(incident))
        context["entry_form"] = forms.get("entry_form") or IncidentEntryForm(
            initial={"at": timezone.localtime().replace(second=0, microsecond=0)}
        )
    return render(request, "console/availability/incident_detail.html", context, status=status)


@vendor_view(VendorRole.SUPPORT)
@require_safe
def incident_detail(request: HttpRequest, incident_id: int) -> HttpResponse:
    return _detail(request, _incident(request, incident_id))


@vendor_view(VendorRole.OPERATOR)
@require_POST
def incident_edit(request: HttpRequest, incident_id: int) -> HttpResponseBase:
    incident = _incident(request, incident_id)
    form = IncidentForm(request.POST)
    if form.is_valid():
        actor = request.actor  # type: ignore[attr-defined]
        if _saved(form, lambda data: incident_update(actor, incident_id=incident.pk, data=data)) is not None:
            return HttpResponseRedirect(reverse("console:availability:incident", args=[incident.pk]))
    return _detail(request, incident, status=400, form=form)


@vendor_view(VendorRole.OPERATOR)
@require_POST
def incident_entry(request: HttpRequest, incident_id: int) -> HttpResponseBase:
    incident = _incident(request, incident_id)
    form = IncidentEntryForm(request.POST)
    if not form.is_valid():
        return _detail(request, incident, status=400, entry_form=form)
    incident_entry_add(
        request.actor,  # type: ignore[attr-defined]
        incident_id=incident.pk,
        at=form.cleaned_data["at"],
        text=form.cleaned_data["text"],
    )
    return HttpResponseRedirect(reverse("console:availability:incident", args=[incident.pk]) + "#timeline")
