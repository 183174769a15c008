"""The card-list import pages (supervisors, MANAGE_CARDS): batches, upload, preview, confirm, discard, progress,
and the saved column mappings. Thin: parse, call one service or selector, render."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.issuance.imports import engine, mappings
from apps.issuance.imports import selectors as selectors_import
from apps.issuance.imports import services as services_import
from apps.issuance.imports.apply import background_rows
from apps.issuance.imports.forms import ColumnMappingForm, ImportUploadForm
from apps.issuance.imports.storage import ImportBatchError, UploadNotScannedError
from apps.issuance.models import ColumnMapping, ImportBatch
from apps.security import mynumber
from apps.security.request_actor import request_actor
from apps.security.roles import MANAGE_CARDS, require_permission

PER_PAGE = 100
RETRY_AFTER_SCANNER = 60  # seconds: about what a restarting clamd takes to load its signatures


def _batch(batch_id: int) -> ImportBatch:
    batch = selectors_import.batch_get(batch_id)
    if batch is None:
        raise Http404
    return batch


@require_permission(MANAGE_CARDS)
@require_GET
def batch_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors_import.batches(), 50).get_page(request.GET.get("page"))
    return render(request, "issuance/import/list.html", {"page": page})


@require_permission(MANAGE_CARDS)
def upload(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    status = 400 if request.method == "POST" else 200
    if request.method == "POST" and not form.is_valid() and form.has_error("file", mynumber.CODE):
        # The form refused a 個人番号 in the file's name (nothing was stored): audited like the service's refusals.
        services_import.import_name_refused(
            file_name=getattr(request.FILES.get("file"), "name", "") or "",
            actor=request_actor(request),
        )
    elif request.method == "POST" and form.is_valid():
        mapping = form.cleaned_data["mapping"]
        try:
            batch = services_import.import_upload(
                upload=form.cleaned_data["file"],
                mapping_id=mapping.pk if mapping else None,
                actor=request_actor(request),
            )
        except ImportBatchError as refused:
            form.add_error("file", refused.message)
            if isinstance(refused, UploadNotScannedError):
                status = 503  # the scanner is down: not the file's fault, try again later
        else:
            return redirect("issuance_import:batch", batch.pk)
    context = {
        "form": form,
        "columns": selectors_import.mapping_rows(),
        "background_rows": background_rows(),
        "max_mb": services_import.max_bytes() // (1024 * 1024),
        "virus_scanning": services_import.virus_scanning_on(),
    }
    response = render(request, "issuance/import/upload.html", context, status=status)
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SCANNER)
    return response


@require_permission(MANAGE_CARDS)
@require_GET
def batch(request: HttpRequest, batch_id: int) -> HttpResponse:
    item = _batch(batch_id)
    problems = Paginator(selectors_import.batch_problems(item), PER_PAGE).get_page(request.GET.get("errors"))
    changes = selectors_import.batch_changes_page(
        item, page_number=request.GET.get("changes"), per_page=PER_PAGE, actor=request_actor(request)
    )
    context = {
        "batch": item,
        "problems": problems,
        "changes": changes,
        "progress": selectors_import.batch_progress(item),
        "encoding": selectors_import.encoding_label(item),
        "problems_capped": len(item.errors) >= engine.ERRORS_KEPT,
        "changes_capped": item.rows_changed > len(item.changes),
        "errors_kept": engine.ERRORS_KEPT,
        "changes_kept": engine.CHANGES_KEPT,
    }
    return render(request, "issuance/import/batch.html", context)


@require_permission(MANAGE_CARDS)
@require_GET
def progress(request: HttpRequest, batch_id: int) -> JsonResponse:
    return JsonResponse(selectors_import.batch_progress(_batch(batch_id)))


@require_permission(MANAGE_CARDS)
@require_POST
def confirm(request: HttpRequest, batch_id: int) -> HttpResponse:
    try:
        result = services_import.import_confirm(batch_id=batch_id, actor=request_actor(request))
    except ImportBatchError as refused:
        if selectors_import.batch_get(batch_id) is None:
            raise Http404 from refused
        messages.error(request, refused.message)
        return redirect("issuance_import:batch", batch_id)
    if not result.started:
        messages.info(request, _("この取込はすでに確定または取りやめになっています。"))
    elif result.background:
        messages.success(request, _("取込を始めました。終わるまでこのページで進み具合を確かめられます。"))
    else:
        batch = result.batch
        messages.success(
            request,
            _("取り込みました（新規 %(new)d件、変更 %(changed)d件、変更なし %(unchanged)d件）。")
            % {"new": batch.rows_new, "changed": batch.rows_changed, "unchanged": batch.rows_unchanged},
        )
    return redirect("issuance_import:batch", batch_id)


@require_permission(MANAGE_CARDS)
@require_POST
def discard(request: HttpRequest, batch_id: int) -> HttpResponse:
    try:
        services_import.import_discard(batch_id=batch_id, actor=request_actor(request))
    except ImportBatchError as refused:
        if selectors_import.batch_get(batch_id) is None:
            raise Http404 from refused
        messages.error(request, refused.message)
    else:
        messages.success(request, _("取込を取りやめました。ファイルは削除しました。"))
    return redirect("issuance_import:batch", batch_id)


# Column mappings


@require_permission(MANAGE_CARDS)
@require_GET
def mapping_list(request: HttpRequest) -> HttpResponse:
    context = {"mappings": selectors_import.mappings(), "columns": selectors_import.mapping_rows()}
    return render(request, "issuance/import/mappings.html", context)


@require_permission(MANAGE_CARDS)
def mapping_edit(request: HttpRequest, mapping_id: int | None = None) -> HttpResponse:
    instance = get_object_or_404(ColumnMapping, pk=mapping_id) if mapping_id else None
    form = ColumnMappingForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        mappings.column_mapping_save(
            mapping_id=mapping_id,
            name=form.cleaned_data["name"],
            columns=form.columns(),
            actor=request_actor(request),
        )
        messages.success(request, _("列の対応を保存しました。"))
        return redirect("issuance_import:mappings")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "issuance/import/mapping_form.html", {"form": form, "mapping": instance}, status=status
    )


@require_permission(MANAGE_CARDS)
@require_POST
def mapping_delete(request: HttpRequest, mapping_id: int) -> HttpResponse:
    try:
        mappings.column_mapping_delete(mapping_id=mapping_id, actor=request_actor(request))
    except ImportBatchError as refused:
        raise Http404 from refused
    messages.success(request, _("列の対応を削除しました。"))
    return redirect("issuance_import:mappings")
