"""The audit log for supervisors and auditors (and the vendor, on its own host): a filtered list and CSV export.

Looking at the list is not itself recorded (it shows no resident's data); an export is ("audit.exported").
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from apps.security import searches
from apps.security.audit import JAPAN, audit_events
from apps.security.audit_export import audit_export
from apps.security.forms_audit import AuditFilterForm
from apps.security.request_actor import request_actor
from apps.security.roles import VIEW_AUDIT, require_permission
from tenants.db import current_schema

PER_PAGE = 50
SEARCH_SCOPE = "security.audit"


def _invalid(request: HttpRequest, form: AuditFilterForm) -> HttpResponse:
    return render(request, "security/audit_list.html", {"form": form, "page": None}, status=400)


@require_permission(VIEW_AUDIT)
@require_http_methods(["GET", "HEAD", "POST"])
def audit_list(request: HttpRequest) -> HttpResponse:
    # The filter is sent by POST and shown at an opaque id (`?s=`, apps/security/searches.py): a login name or
    # address typed into it never reaches a URL; the CSV link carries the same id.
    step = searches.search_step(request, AuditFilterForm, scope=SEARCH_SCOPE, bound_when_empty=True)
    if step.redirect is not None:
        return step.redirect
    form = step.form
    if not form.is_valid():
        return _invalid(request, form)
    page = Paginator(audit_events(form.filters()), PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "security/audit_list.html", {"form": form, "page": page})


@require_permission(VIEW_AUDIT)
@require_safe
def audit_export_csv(request: HttpRequest) -> HttpResponseBase:
    form = AuditFilterForm(searches.search_terms(request, scope=SEARCH_SCOPE) or QueryDict())
    if not form.is_valid():
        return _invalid(request, form)
    response = StreamingHttpResponse(
        audit_export(actor=request_actor(request), filters=form.filters()),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.localtime(timezone.now(), JAPAN).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-{current_schema()}-{stamp}.csv"'
    # A streamed body (the log may be long); require_permission's type admits only HttpResponse.
    return response
