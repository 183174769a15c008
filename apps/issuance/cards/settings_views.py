"""The issuance settings pages: the settings form, identity documents and proxy reasons (supervisors only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from apps.issuance.cards import settings_services as services_cards
from apps.issuance.cards.forms import (
    ActiveForm,
    IdentityDocumentForm,
    IssuanceSettingsForm,
    ProxyReasonForm,
)
from apps.issuance.cards.services import settings_ensure
from apps.issuance.cards.settings_services import DOCUMENTS, REASONS, EntryList
from apps.issuance.models import (
    IdentityDocument,
    ProxyReason,
)
from apps.security.request_actor import request_actor
from apps.security.roles import MANAGE_CARDS, require_permission

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise


def _form_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@require_permission(MANAGE_CARDS)
def settings_page(request: HttpRequest) -> HttpResponse:
    form = IssuanceSettingsForm(request.POST or None, instance=settings_ensure())
    if request.method == "POST" and form.is_valid():
        try:
            services_cards.issuance_settings_update(values=form.cleaned_data, actor=request_actor(request))
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("交付の設定を保存しました。"))
            return redirect("issuance_cards:settings")
    context = {
        "form": form,
        "documents": IdentityDocument.objects.order_by("kind", "order", "pk"),
        "reasons": ProxyReason.objects.order_by("order", "pk"),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "issuance/cards/settings.html", context, status=status)


@dataclass(frozen=True)
class _EntryPages:
    """What the add/edit page of one list (identity documents, proxy reasons) needs and says."""

    entries: EntryList
    form_class: type[IdentityDocumentForm] | type[ProxyReasonForm]
    saved: str | _StrPromise
    edit_title: str | _StrPromise
    add_title: str | _StrPromise


_DOCUMENT_PAGES = _EntryPages(
    DOCUMENTS,
    IdentityDocumentForm,
    gettext_lazy("本人確認書類を保存しました。"),
    gettext_lazy("本人確認書類の編集"),
    gettext_lazy("本人確認書類の追加"),
)
_REASON_PAGES = _EntryPages(
    REASONS,
    ProxyReasonForm,
    gettext_lazy("代理受取の理由を保存しました。"),
    gettext_lazy("代理受取の理由の編集"),
    gettext_lazy("代理受取の理由の追加"),
)


def _entry_edit(request: HttpRequest, pages: _EntryPages, pk: int | None) -> HttpResponse:
    """Add or edit one entry of a city's list (identity documents, proxy reasons) through its audited service."""
    entry = get_object_or_404(pages.entries.model, pk=pk) if pk else None
    form = pages.form_class(request.POST or None, instance=entry)
    if request.method == "POST" and form.is_valid():
        try:
            services_cards.entry_save(
                entries=pages.entries, entry_id=pk, values=form.cleaned_data, actor=request_actor(request)
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, pages.saved)
            return redirect("issuance_cards:settings")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "title": pages.edit_title if entry else pages.add_title}
    return render(request, "issuance/cards/entry_form.html", context, status=status)


@require_permission(MANAGE_CARDS)
def document_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    return _entry_edit(request, _DOCUMENT_PAGES, pk)


@require_permission(MANAGE_CARDS)
def reason_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    return _entry_edit(request, _REASON_PAGES, pk)


def _entry_active(request: HttpRequest, *, entries: EntryList, pk: int) -> HttpResponse:
    """Stop offering an entry at the counter, or offer it again (the row stays for past checklists)."""
    get_object_or_404(entries.model, pk=pk)
    form = ActiveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("操作を読み取れませんでした。もう一度お試しください。"))
        return redirect("issuance_cards:settings")
    active = form.cleaned_data["active"]
    entry = services_cards.entry_set_active(
        entries=entries, entry_id=pk, active=active, actor=request_actor(request)
    )
    text = _("「%(name)s」を使用中に戻しました。") if active else _("「%(name)s」を使用停止にしました。")
    messages.success(request, text % {"name": entry.name_ja})
    return redirect("issuance_cards:settings")


@require_permission(MANAGE_CARDS)
@require_POST
def document_active(request: HttpRequest, pk: int) -> HttpResponse:
    return _entry_active(request, entries=DOCUMENTS, pk=pk)


@require_permission(MANAGE_CARDS)
@require_POST
def reason_active(request: HttpRequest, pk: int) -> HttpResponse:
    return _entry_active(request, entries=REASONS, pk=pk)
