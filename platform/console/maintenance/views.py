"""The console's maintenance pages: the list with each city's answer (support and up), propose and cancel
(operator and up). Thin: the work is in services, the reads in selectors."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from console.access import VendorRole, role_allows, vendor_view
from console.maintenance import selectors, services
from console.maintenance.forms import ProposalForm
from console.maintenance.models import MaintenanceProposal
from console.maintenance.overlap import overlaps


@vendor_view(VendorRole.SUPPORT)
@require_safe
def window_list(request: HttpRequest) -> HttpResponse:
    context = {
        "proposals": selectors.proposals_for_console(request.actor),  # type: ignore[attr-defined]
        "now": timezone.now(),
        "can_operate": role_allows(request.vendor_role, VendorRole.OPERATOR),  # type: ignore[attr-defined]
    }
    return render(request, "console/maintenance/list.html", context)


@vendor_view(VendorRole.OPERATOR)
@require_http_methods(["GET", "HEAD", "POST"])
def window_propose(request: HttpRequest) -> HttpResponseBase:
    if request.method != "POST":
        return _form_page(request, ProposalForm())
    form = ProposalForm(request.POST)
    if not form.is_valid():
        return _form_page(request, form, status=400)
    data = form.cleaned_data
    found = overlaps(data["cities"], data["modules"], data["window_start"], data["window_end"])
    if found and not data["confirm_overlap"]:
        form.add_error(
            "confirm_overlap", _("提供時間に重なります。内容を確かめて、承知の上で提案してください。")
        )
        return _form_page(request, form, status=400, overlaps=found)
    try:
        proposal = services.maintenance_propose(
            request.actor,  # type: ignore[attr-defined]
            data=services.ProposalInput(
                cities=list(data["cities"]),
                modules=data["modules"],
                window_start=data["window_start"],
                window_end=data["window_end"],
                title_ja=data["title_ja"],
                title_en=data["title_en"],
                body_ja=data["body_ja"],
                body_en=data["body_en"],
            ),
        )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return _form_page(request, form, status=400, overlaps=found)
    messages.success(
        request,
        _("「%(title)s」を提案し、各市区町村の管理者に承認を依頼しました。") % {"title": proposal.title_ja},
    )
    return redirect("console:maintenance:list")


def _form_page(request: HttpRequest, form: ProposalForm, status: int = 200, **extra: object) -> HttpResponse:
    return render(request, "console/maintenance/propose.html", {"form": form, **extra}, status=status)


@vendor_view(VendorRole.OPERATOR)
@require_POST
def window_cancel(request: HttpRequest, proposal_id: int) -> HttpResponseBase:
    proposal = get_object_or_404(MaintenanceProposal, pk=proposal_id)
    services.maintenance_cancel(request.actor, proposal_id=proposal.pk)  # type: ignore[attr-defined]
    messages.success(request, _("「%(title)s」を取り消しました。") % {"title": proposal.title_ja})
    return redirect("console:maintenance:list")
