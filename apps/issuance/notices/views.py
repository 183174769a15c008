"""Staff pages for notice letters (交付通知書): choose and print, one card's PDF, and the print log.

A PDF is a print: every download goes through `services.notices_print`, which records it in the print
log, on each card's history and in the audit log.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.issuance.cards.services import CardError
from apps.issuance.models import Card, NoticePrint
from apps.issuance.notices import selectors as selectors_notices
from apps.issuance.notices.forms import CardNoticeForm, NoticePrintForm
from apps.issuance.notices.services import PrintResult, Selection, notices_preview, notices_print
from apps.security.request_actor import request_actor
from apps.security.roles import MANAGE_CARDS, require_permission
from base.downloads import content_disposition

PER_PAGE = 50


def _pdf_response(result: PrintResult, label: str) -> HttpResponse:
    log = result.log
    stamp = timezone.localtime(log.at).strftime("%Y%m%d-%H%M")
    kind = NoticePrint.Kind(log.kind).label
    variant = "A4" if log.variant == NoticePrint.Variant.LETTER else "はがき"
    response = HttpResponse(result.pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition(
        f"{kind}_{label}_{variant}_{stamp}.pdf", f"{log.kind}-{label}-{log.variant}-{stamp}.pdf"
    )
    response["Cache-Control"] = "no-store"  # residents' names and addresses
    return response


@require_permission(MANAGE_CARDS)
def notices(request: HttpRequest) -> HttpResponse:
    """GET: the form. POST action=preview: how many letters (and which cards are refused). POST otherwise: the PDF."""
    form = NoticePrintForm(request.POST or None)
    preview = None
    if request.method == "POST" and form.is_valid():
        selection = form.selection()
        data = form.cleaned_data
        if request.POST.get("action") == "preview":
            preview = notices_preview(selection=selection, kind=data["kind"], mark_mailed=data["mark_mailed"])
        else:
            try:
                result = notices_print(
                    selection=selection,
                    variant=data["variant"],
                    kind=data["kind"],
                    actor=request_actor(request),
                    mark_mailed=data["mark_mailed"],
                )
            except CardError as exc:
                form.add_error(None, str(exc))
            else:
                return _pdf_response(result, selection.batch or data["state"] or "cards")
    status = 400 if request.method == "POST" and form.errors else 200
    recent = list(selectors_notices.print_log()[:5])
    context = {"form": form, "preview": preview, "recent": recent}
    return render(request, "issuance/notices/index.html", context, status=status)


@require_permission(MANAGE_CARDS)
def card_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """One card's letter (?variant=letter|postcard, ?kind=notice|reminder): the card page links here."""
    card = get_object_or_404(Card, pk=pk)
    query = CardNoticeForm(request.GET)
    if not query.is_valid():
        message = _("用紙または通知書の種類の指定が正しくありません。")
        return render(
            request, "issuance/notices/refused.html", {"card": card, "message": message}, status=400
        )
    try:
        result = notices_print(
            selection=Selection(card_ids=[card.pk]),
            variant=query.cleaned_data["variant"] or NoticePrint.Variant.LETTER,
            kind=query.cleaned_data["kind"] or NoticePrint.Kind.NOTICE,
            actor=request_actor(request),
        )
    except CardError as exc:
        return render(
            request, "issuance/notices/refused.html", {"card": card, "message": str(exc)}, status=409
        )
    return _pdf_response(result, card.notice_number)


@require_permission(MANAGE_CARDS)
def print_log(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors_notices.print_log(), PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "issuance/notices/log.html", {"page": page})
