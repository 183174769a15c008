"""The card list, each card's page with its whole history, and state changes (one card or many).

The history's rows are built in cards/presenters.py; the settings pages are cards/settings_views.py.

Counter staff (ISSUE_CARDS) may look; supervisors (MANAGE_CARDS) may change. Pages that show residents' data
read it through a selector that takes the actor and records `personal_data.viewed` once per page view. Thin views:
parse a form, call one selector or service, render.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apps.booking.calendar.hours import TOKYO
from apps.issuance.cards import selectors as selectors_cards
from apps.issuance.cards.forms import (
    BulkForm,
    CardFilterForm,
    TransitionForm,
)
from apps.issuance.cards.presenters import Row, choice_label, history_row
from apps.issuance.cards.selectors import CardFilter
from apps.issuance.cards.services import (
    CardError,
    card_transition,
    cards_transition,
    refusal,
)
from apps.issuance.models import (
    CancelReason,
    Card,
    DisposalMethod,
)
from apps.issuance.states import ACTIONS, Action, actions_for
from apps.security import searches
from apps.security.request_actor import request_actor
from apps.security.roles import ISSUE_CARDS, MANAGE_CARDS, require_permission
from base.japanese import to_wareki

PER_PAGE = 50
SEARCH_SCOPE = "issuance.cards"
# Actions that belong to other pages: booking (book, cancel, no-show), the counter checklist (issue, not issue)
# and the notice letters (print). The card page offers the rest.
ELSEWHERE = frozenset({"book", "cancel_booking", "no_show", "issue", "not_issue", "print"})
STAFF_ACTIONS = [action for name, action in ACTIONS.items() if name not in ELSEWHERE]
SKIPPED_IN_MESSAGE = 10


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
        shown = selectors_cards.card_list_page(
            filters, page_number=request.GET.get("page"), per_page=PER_PAGE, actor=request_actor(request)
        )
        page, counts = shown.page, shown.counts
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
    history = selectors_cards.card_history(card, actor=request_actor(request))
    context = {
        "card": card,
        "birth_wareki": to_wareki(card.birth_date),
        "history": [history_row(entry) for entry in history],
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
        card_transition(card_id=card.pk, change=form.change(action), actor=request_actor(request))
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
        preview = selectors_cards.bulk_preview_viewed(cards, action, actor=request_actor(request))
        data = form.cleaned_data
        context = {
            "form": form,
            "action": action,
            "scope_label": dict(BulkForm.SCOPES)[data["scope"]],
            "disposal_label": choice_label(DisposalMethod, data.get("disposal_method")),
            "cancel_label": choice_label(CancelReason, data.get("cancel_reason")),
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
            actor=request_actor(request),
        )
    except CardError as exc:
        messages.error(request, str(exc))
        return redirect(_list_url(request, filters))
    _bulk_result_messages(request, action, result.done, result.skipped)
    return redirect(_list_url(request, filters))
