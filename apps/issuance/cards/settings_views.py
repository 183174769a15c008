"""The issuance settings pages: the settings form, identity documents and proxy reasons (supervisors only)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.issuance.cards import settings_services as services_cards
from apps.issuance.cards.forms import (
    ActiveForm,
    IdentityDocumentForm,
    IssuanceSettingsForm,
    ProxyReasonForm,
)
from apps.issuance.cards.services import (
    settings_ensure,
)
from apps.issuance.models import (
    IdentityDocument,
    ProxyReason,
)
from apps.security.roles import MANAGE_CARDS, require_permission


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
            services_cards.issuance_settings_update(
                values=form.cleaned_data, actor=request.user, request=request
            )
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


def _entry_edit(
    request: HttpRequest,
    *,
    model: type[IdentityDocument] | type[ProxyReason],
    pk: int | None,
    form_class: Any,
    save: Any,
    saved: str,
    titles: tuple[str, str],
) -> HttpResponse:
    """Add or edit one entry of a city's list (identity documents, proxy reasons) through its audited service."""
    entry = get_object_or_404(model, pk=pk) if pk else None
    form = form_class(request.POST or None, instance=entry)
    if request.method == "POST" and form.is_valid():
        try:
            save(pk, form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, saved)
            return redirect("issuance_cards:settings")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "title": titles[0] if entry else titles[1]}
    return render(request, "issuance/cards/entry_form.html", context, status=status)


@require_permission(MANAGE_CARDS)
def document_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    return _entry_edit(
        request,
        model=IdentityDocument,
        pk=pk,
        form_class=IdentityDocumentForm,
        save=lambda pk, values: services_cards.identity_document_save(
            document_id=pk, values=values, actor=request.user, request=request
        ),
        saved=_("本人確認書類を保存しました。"),
        titles=(_("本人確認書類の編集"), _("本人確認書類の追加")),
    )


@require_permission(MANAGE_CARDS)
def reason_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    return _entry_edit(
        request,
        model=ProxyReason,
        pk=pk,
        form_class=ProxyReasonForm,
        save=lambda pk, values: services_cards.proxy_reason_save(
            reason_id=pk, values=values, actor=request.user, request=request
        ),
        saved=_("代理受取の理由を保存しました。"),
        titles=(_("代理受取の理由の編集"), _("代理受取の理由の追加")),
    )


def _entry_active(
    request: HttpRequest, entry: IdentityDocument | ProxyReason, set_active: Any
) -> HttpResponse:
    """Stop offering an entry at the counter, or offer it again (the row stays for past checklists)."""
    form = ActiveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("操作を読み取れませんでした。もう一度お試しください。"))
        return redirect("issuance_cards:settings")
    active = form.cleaned_data["active"]
    set_active(entry.pk, active)
    text = _("「%(name)s」を使用中に戻しました。") if active else _("「%(name)s」を使用停止にしました。")
    messages.success(request, text % {"name": entry.name_ja})
    return redirect("issuance_cards:settings")


@require_permission(MANAGE_CARDS)
@require_POST
def document_active(request: HttpRequest, pk: int) -> HttpResponse:
    return _entry_active(
        request,
        get_object_or_404(IdentityDocument, pk=pk),
        lambda pk, active: services_cards.identity_document_set_active(
            document_id=pk, active=active, actor=request.user, request=request
        ),
    )


@require_permission(MANAGE_CARDS)
@require_POST
def reason_active(request: HttpRequest, pk: int) -> HttpResponse:
    return _entry_active(
        request,
        get_object_or_404(ProxyReason, pk=pk),
        lambda pk, active: services_cards.proxy_reason_set_active(
            reason_id=pk, active=active, actor=request.user, request=request
        ),
    )
