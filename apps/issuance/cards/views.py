"""The card list, each card's page with its whole history, state changes (one card or many), and the settings.

Counter staff (ISSUE_CARDS) may look; supervisors (MANAGE_CARDS) may change. Pages that show residents' data
record `personal_data.viewed` once per page view. Thin views: parse a form, call one selector or service, render.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apps.booking.calendar.hours import TOKYO
from apps.issuance.cards import selectors as selectors_cards
from apps.issuance.cards import settings_services as services_cards
from apps.issuance.cards.forms import (
    ActiveForm,
    BulkForm,
    CardFilterForm,
    IdentityDocumentForm,
    IssuanceSettingsForm,
    ProxyReasonForm,
    TransitionForm,
)
from apps.issuance.cards.selectors import CardFilter
from apps.issuance.cards.services import (
    CardError,
    card_transition,
    cards_transition,
    refusal,
    settings_ensure,
)
from apps.issuance.models import (
    CancelReason,
    Card,
    CardEvent,
    CardState,
    CounterCheck,
    DisposalMethod,
    IdentityDocument,
    NoticePrint,
    ProxyReason,
)
from apps.issuance.states import ACTIONS, Action, actions_for
from apps.security import searches
from apps.security.audit import audit_record
from apps.security.roles import ISSUE_CARDS, MANAGE_CARDS, require_permission
from base.japanese import to_wareki

PER_PAGE = 50
SEARCH_SCOPE = "issuance.cards"
# Actions that belong to other pages: booking (book, cancel, no-show), the counter checklist (issue, not issue)
# and the notice letters (print). The card page offers the rest.
ELSEWHERE = frozenset({"book", "cancel_booking", "no_show", "issue", "not_issue", "print"})
STAFF_ACTIONS = [action for name, action in ACTIONS.items() if name not in ELSEWHERE]
SKIPPED_IN_MESSAGE = 10


@dataclass(frozen=True)
class Row:
    card: Card
    birth_wareki: str


@dataclass(frozen=True)
class HistoryRow:
    """One line of a card's history, ready to show."""

    at: datetime
    title: str
    from_state: str
    to_state: str
    by: str
    reason: str
    details: list[tuple[str, str]]


def _label(choices: type[models.TextChoices], value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def _field_label(name: str) -> str:
    try:
        field = Card._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    return str(getattr(field, "verbose_name", name))


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("はい") if value else _("いいえ")
    return str(value)


def _changes(changes: Any) -> list[tuple[str, str]]:
    """The import's changed fields: {field: {"before": x, "after": y}} or {field: [x, y]}."""
    rows: list[tuple[str, str]] = []
    if not isinstance(changes, dict):
        return [(_("変更"), _shown(changes))]
    for name, change in changes.items():
        if isinstance(change, dict):
            before, after = change.get("before"), change.get("after")
        elif isinstance(change, list | tuple) and len(change) == 2:
            before, after = change
        else:
            rows.append((_field_label(name), _shown(change)))
            continue
        rows.append((_field_label(name), f"{_shown(before)} → {_shown(after)}"))
    return rows


_DATA_LABELS = {
    "batch": gettext_lazy("取込の番号"),
    "line": gettext_lazy("取込ファイルの行"),
    "print_id": gettext_lazy("印刷の番号"),
    "counter_check": gettext_lazy("窓口での確認の番号"),
    "reservation": gettext_lazy("予約番号"),
    "reservation_code": gettext_lazy("予約番号"),
    "reservation_id": gettext_lazy("予約"),
    "file_name": gettext_lazy("ファイル名"),
}
# Labels of coded values some services put in an event's data.
_DATA_CHOICES: dict[str, tuple[Any, type[models.TextChoices]]] = {
    "disposal_method": (gettext_lazy("廃棄の方法"), DisposalMethod),
    "cancel_reason": (gettext_lazy("取消の理由"), CancelReason),
    "variant": (gettext_lazy("用紙"), NoticePrint.Variant),
    "kind": (gettext_lazy("種類"), NoticePrint.Kind),
    "identity_kind": (gettext_lazy("本人確認"), CounterCheck.IdentityKind),
}


def _event_details(data: dict[str, Any]) -> list[tuple[str, str]]:
    """An event's data as label/value pairs. The import's changes come as {"before": {field: x}, "after":
    {field: y}}; older or other shapes ({"changes": {field: {"before", "after"} or [x, y]}}) are read too."""
    details: list[tuple[str, str]] = []
    before, after = data.get("before"), data.get("after")
    if isinstance(before, dict) and isinstance(after, dict):
        for name in dict.fromkeys([*before, *after]):
            details.append((_field_label(name), f"{_shown(before.get(name))} → {_shown(after.get(name))}"))
    for key, value in data.items():
        if key in ("before", "after") and isinstance(before, dict) and isinstance(after, dict):
            continue
        if key == "reservation_id" and "reservation_code" in data:
            continue  # the code is what staff know the booking by
        if key in _DATA_CHOICES:
            label, choices = _DATA_CHOICES[key]
            details.append((str(label), _label(choices, value)))
        elif key in ("changes", "changed"):
            details += _changes(value)
        elif key == "proxy":
            details.append((_("代理人による受取"), _shown(bool(value))))
        else:
            details.append((str(_DATA_LABELS.get(key, key)), _shown(value)))
    return details


# Who acted, when it was not a staff member (CardEvent.by_label written by the system or the booking wiring).
_ACTOR_LABELS = {"resident": gettext_lazy("住民（予約の画面から）"), "system": gettext_lazy("システム")}


def _user_label(user: Any) -> str:
    if user is None:
        return _("システム")
    return str(getattr(user, "display_name", "") or user.get_username())


def _history_row(entry: selectors_cards.HistoryEntry) -> HistoryRow:
    if entry.kind == "event":
        event: CardEvent = entry.item
        moved = event.to_state and event.from_state != event.to_state
        return HistoryRow(
            at=event.at,
            title=event.get_kind_display(),
            from_state=_label(CardState, event.from_state) if moved and event.from_state else "",
            to_state=_label(CardState, event.to_state) if moved else "",
            by=str(_ACTOR_LABELS.get(event.by_label, event.by_label)) or _user_label(event.by),
            reason=event.reason,
            details=_event_details(event.data if isinstance(event.data, dict) else {}),
        )
    if entry.kind == "print":
        printed: NoticePrint = entry.item
        return HistoryRow(
            at=printed.at,
            title=_("%(kind)sを印刷") % {"kind": printed.get_kind_display()},
            from_state="",
            to_state="",
            by=_user_label(printed.by),
            reason="",
            details=[
                (_("用紙"), printed.get_variant_display()),
                (_("一緒に印刷した枚数"), str(printed.card_count)),
                *([(_("納品回"), printed.delivery_batch)] if printed.delivery_batch else []),
            ],
        )
    check: CounterCheck = entry.item
    details = [
        (_("結果"), check.get_outcome_display()),
        (_("本人確認"), check.get_identity_kind_display()),
        (_("確認した書類"), "、".join(map(str, check.documents)) or "—"),
    ]
    if check.proxy:
        details += [
            (_("代理人による受取"), check.proxy_reason or _("はい")),
            (_("代理人の確認書類"), "、".join(map(str, check.proxy_documents)) or "—"),
        ]
    if check.guardian:
        details.append((_("法定代理人（15歳未満）"), _("同席")))
    if check.old_cards:
        details.append(
            (_("回収したカード"), "、".join(_label(CounterCheck.OldCard, c) for c in check.old_cards))
        )
    details.append((_("受領書に署名"), _shown(check.receipt_signed)))
    return HistoryRow(
        at=check.at,
        title=_("窓口での確認"),
        from_state="",
        to_state="",
        by=_user_label(check.by),
        reason=check.not_issued_reason,
        details=details,
    )


def _form_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _list_url(request: HttpRequest, filters: CardFilter | None = None) -> str:
    """The list showing `filters`, kept as a search (`?s=`): the filter's text never goes into a URL."""
    query = filters.query() if filters else {}
    if not query:
        return reverse("issuance_cards:list")
    search_id = searches.search_save(
        request, scope=SEARCH_SCOPE, terms={name: [str(value)] for name, value in query.items()}
    )
    return searches.search_url(reverse("issuance_cards:list"), search_id)


# The list


def _list_page(
    request: HttpRequest,
    *,
    filter_form: CardFilterForm,
    bulk_form: BulkForm | None = None,
    batches: list[str],
    status: int = 200,
) -> HttpResponse:
    can_manage = request.user.has_perm(MANAGE_CARDS)
    context: dict[str, Any] = {
        "filter_form": filter_form,
        "can_manage": can_manage,
        "page": None,
        "counts": [],
        # A bulk form sent back with an error keeps its ticks.
        "selected_ids": {int(v) for v in request.POST.getlist("ids") if v.isdigit()},
    }
    if filter_form.is_valid():
        filters = filter_form.filters()
        page = Paginator(selectors_cards.cards_filtered(filters), PER_PAGE).get_page(request.GET.get("page"))
        counts = selectors_cards.state_counts(filters)
        audit_record(
            action="personal_data.viewed",
            request=request,
            target="issuance:cards",
            summary=_("カード一覧（%(count)d件中 %(page)dページ目）")
            % {"count": page.paginator.count, "page": page.number},
            after={"filters": filters.query()} if filters.query() else None,
        )
        context.update(
            page=page,
            rows=[Row(card, to_wareki(card.birth_date)) for card in page],
            counts=counts,
            counts_total=sum(c.count for c in counts),
            filter_query=filters.query(),
        )
        if can_manage:
            context["bulk_form"] = bulk_form or BulkForm(batches=batches)
    elif status == 200:
        status = 400
    return render(request, "issuance/cards/list.html", context, status=status)


@require_permission(ISSUE_CARDS)
@require_http_methods(["GET", "HEAD", "POST"])
def card_list(request: HttpRequest) -> HttpResponse:
    # The filter is sent by POST and shown at an opaque id (`?s=`): a name or number typed into it never
    # reaches a URL. `?state=` (the counts' links) is a choice, not text, and may replace the kept state.
    batches = selectors_cards.delivery_batches()
    step = searches.search_step(
        request,
        CardFilterForm,
        scope=SEARCH_SCOPE,
        overrides=("state",),
        bound_when_empty=True,
        batches=batches,
    )
    if step.redirect is not None:
        return step.redirect
    return _list_page(request, filter_form=step.form, batches=batches, status=step.status)


# One card


def _notice_pdf_url(card: Card) -> str:
    """The per-card notice letter, once the notices pages provide it."""
    try:
        return reverse("issuance_notices:card_pdf", args=[card.pk])
    except NoReverseMatch:
        return ""


def _booking_day_url(card: Card) -> str:
    if card.reservation is None:
        return ""
    day: date = card.reservation.slot.start.astimezone(TOKYO).date()
    return f"{reverse('booking_staff:day')}?date={day:%Y-%m-%d}"


def _card_page(
    request: HttpRequest,
    card: Card,
    *,
    failed: TransitionForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    can_manage = request.user.has_perm(MANAGE_CARDS)
    forms: list[TransitionForm] = []
    if can_manage:
        for action in actions_for(card.state, card.express):
            if action.name in ELSEWHERE:
                continue
            if failed is not None and failed.action.name == action.name:
                forms.append(failed)
            else:
                forms.append(TransitionForm(action=action))
    audit_record(
        action="personal_data.viewed",
        request=request,
        target=f"Card:{card.pk}",
        summary=_("カード %(number)s") % {"number": card.notice_number},
    )
    context = {
        "card": card,
        "birth_wareki": to_wareki(card.birth_date),
        "history": [_history_row(entry) for entry in selectors_cards.card_history(card)],
        "action_forms": forms,
        "can_manage": can_manage,
        "error": error,
        "notice_pdf_url": _notice_pdf_url(card),
        "booking_day_url": _booking_day_url(card),
    }
    return render(request, "issuance/cards/detail.html", context, status=status)


@require_permission(ISSUE_CARDS)
@require_safe
def card_page(request: HttpRequest, pk: int) -> HttpResponse:
    return _card_page(request, get_object_or_404(selectors_cards.card_detail(pk)))


@require_permission(MANAGE_CARDS)
@require_POST
def card_transition_view(request: HttpRequest, pk: int) -> HttpResponse:
    card = get_object_or_404(selectors_cards.card_detail(pk))
    action = ACTIONS.get(request.POST.get("action", ""))
    if action is None or action.name in ELSEWHERE:
        return _card_page(request, card, error=_("この操作はこのページでは行えません。"), status=400)
    form = TransitionForm(request.POST, action=action)
    if not form.is_valid():
        return _card_page(request, card, failed=form, status=400)
    try:
        card_transition(card_id=card.pk, change=form.change(action), actor=request.user, request=request)
    except CardError as exc:
        card.refresh_from_db()
        return _card_page(request, card, failed=form, error=str(exc), status=409)
    messages.success(
        request,
        _("カード %(number)s に「%(action)s」を記録しました。")
        % {"number": card.notice_number, "action": action.label},
    )
    return redirect("issuance_cards:detail", pk=card.pk)


# Many cards


def _selection(form: BulkForm, filters: CardFilter) -> QuerySet[Card]:
    data = form.cleaned_data
    if data["scope"] == BulkForm.FILTER:
        return selectors_cards.cards_filtered(filters)
    if data["scope"] == BulkForm.BATCH:
        return Card.objects.filter(delivery_batch=data["target_batch"])
    return Card.objects.filter(pk__in=data["ids"])


def _bulk_result_messages(
    request: HttpRequest, action: Action, done: int, skipped: list[tuple[str, str]]
) -> None:
    messages.success(
        request,
        _("「%(action)s」: %(done)d件を変更しました。対象外 %(skipped)d件。")
        % {"action": action.label, "done": done, "skipped": len(skipped)},
    )
    if skipped:
        shown = "、".join(f"{number}（{why}）" for number, why in skipped[:SKIPPED_IN_MESSAGE])
        more = len(skipped) - SKIPPED_IN_MESSAGE
        if more > 0:
            shown += _("、ほか%(count)d件") % {"count": more}
        messages.warning(request, _("対象外のカード: %(cards)s") % {"cards": shown})


def _conditions(form: CardFilterForm, filters: CardFilter) -> list[tuple[str, str]]:
    """The filter in words, for the confirmation page."""
    shown: list[tuple[str, str]] = []
    for name, value in filters.query().items():
        field = form.fields[name]
        choices = dict(getattr(field, "choices", []))
        shown.append((str(field.label), str(choices.get(value, value))))
    return shown


@require_permission(MANAGE_CARDS)
@require_POST
def card_bulk(request: HttpRequest) -> HttpResponse:
    """First a confirmation page (how many change, which are skipped and why), then the change itself."""
    batches = selectors_cards.delivery_batches()
    filter_form = CardFilterForm(request.POST, batches=batches)
    form = BulkForm(request.POST, batches=batches)
    if not (filter_form.is_valid() and form.is_valid()):
        return _list_page(request, filter_form=filter_form, bulk_form=form, batches=batches, status=400)
    action = form.chosen_action
    assert action is not None
    filters = filter_form.filters()
    cards = _selection(form, filters)
    if not form.cleaned_data["confirm"]:
        preview = selectors_cards.bulk_preview(cards, action)
        audit_record(
            action="personal_data.viewed",
            request=request,
            target="issuance:cards:bulk",
            summary=_("一括操作の確認（%(action)s、%(count)d件）")
            % {"action": action.label, "count": preview.total},
        )
        data = form.cleaned_data
        context = {
            "form": form,
            "action": action,
            "scope_label": dict(BulkForm.SCOPES)[data["scope"]],
            "disposal_label": _label(DisposalMethod, data.get("disposal_method")),
            "cancel_label": _label(CancelReason, data.get("cancel_reason")),
            "preview": preview,
            "skipped": [(card, refusal(action, card)) for card in preview.skipped],
            "filter_query": filters.query(),
            "conditions": _conditions(filter_form, filters) if data["scope"] == BulkForm.FILTER else [],
            "back_url": _list_url(request, filters),
        }
        return render(request, "issuance/cards/bulk_confirm.html", context)
    try:
        result = cards_transition(
            card_ids=list(cards.values_list("pk", flat=True)),
            change=form.change(action),
            actor=request.user,
            request=request,
        )
    except CardError as exc:
        messages.error(request, str(exc))
        return redirect(_list_url(request, filters))
    _bulk_result_messages(request, action, result.done, result.skipped)
    return redirect(_list_url(request, filters))


# Settings


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
