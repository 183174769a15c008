"""The city's side at /staff/vendor/maintenance/: its supervisors see the windows proposed to this city and approve
or reject each before it begins (audited in the city's log). Never another city's rows."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.security.request_actor import request_actor
from apps.security.roles import MANAGE_SECURITY, require_permission
from console.maintenance import selectors, services
from console.maintenance.forms import DecisionForm
from console.maintenance.models import MaintenanceApproval


def _page(request: HttpRequest, status: int = 200, **extra: object) -> HttpResponse:
    actor = request_actor(request)
    context = {
        "approvals": selectors.approvals_for_city(actor, request.tenant.pk),  # type: ignore[attr-defined]
        "now": timezone.now(),
        **extra,
    }
    return render(request, "console/maintenance/city_list.html", context, status=status)


@require_permission(MANAGE_SECURITY)  # supervisors only
def approval_list(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_permission(MANAGE_SECURITY)
@require_POST
def approval_decide(request: HttpRequest, approval_id: int) -> HttpResponseBase:
    actor = request_actor(request)
    city = request.tenant  # type: ignore[attr-defined]
    if selectors.approval_for_city(actor, city.pk, approval_id) is None:
        raise Http404
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return _page(request, status=400, failed_id=approval_id, failed_form=form)
    try:
        approval = services.maintenance_decide(
            actor,
            municipality=city,
            approval_id=approval_id,
            approve=form.cleaned_data["decision"] == "approve",
            comment=form.cleaned_data["comment"],
        )
    except MaintenanceApproval.DoesNotExist:
        raise Http404 from None
    except ValidationError as exc:
        form.add_error(None, exc.messages)
        return _page(request, status=409, failed_id=approval_id, failed_form=form)
    done = (
        _("承認しました。") if approval.status == MaintenanceApproval.Status.APPROVED else _("却下しました。")
    )
    messages.success(request, f"「{approval.proposal.title_ja}」: {done}")
    return redirect("vendor_maintenance:list")
