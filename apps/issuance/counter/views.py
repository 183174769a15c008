"""The counter pages: find the resident's card, then the checklist that hands it over (docs/counter.md).

Thin views: parse a form, call one selector or service, render. Searching and showing a resident's card are
recorded as `personal_data.viewed` by the selectors that read them, with what was searched for (a 個人番号 never
gets that far: the form refuses it).
The search is sent by POST and shown at an opaque id (apps/security/searches.py), never as `?q=` in a URL.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.booking.models import Reservation
from apps.issuance.cards.services import CardError
from apps.issuance.counter import selectors as selectors_counter
from apps.issuance.counter import services as services_counter
from apps.issuance.counter.forms import CounterCheckForm, CounterSearchForm, outcome_of
from apps.issuance.models import Card, CounterCheck
from apps.security import searches
from apps.security.request_actor import request_actor
from apps.security.roles import ISSUE_CARDS, require_permission
from base.japanese import to_wareki

SEARCH_SCOPE = "issuance.counter"


def checklist_url(card: Card, reservation: Reservation | None = None) -> str:
    url = reverse("issuance_counter:checklist", args=[card.pk])
    if reservation is not None and card.reservation_id != reservation.pk:
        url += "?" + urlencode({"reservation": reservation.pk})
    return url


@require_permission(ISSUE_CARDS)
def search(request: HttpRequest) -> HttpResponse:
    # Sent by POST and shown at an opaque id (`?s=`): what was searched for never reaches a URL or a log.
    step = searches.search_step(request, CounterSearchForm, scope=SEARCH_SCOPE, keep=("list",))
    if step.redirect is not None:
        return step.redirect
    form, status = step.form, step.status
    result = None
    rows = []
    if form.is_bound and form.is_valid() and status == 200:
        text, birth_date = form.cleaned_data["q"], form.cleaned_data["birth_date"]
        result = selectors_counter.counter_search(
            text=text, birth_date=birth_date, actor=request_actor(request)
        )
        assert result is not None  # the form checked the input's kind
        if len(result.cards) == 1 and "list" not in request.GET:
            return redirect(checklist_url(result.cards[0], result.reservation))
        rows = [
            {
                "card": card,
                "url": checklist_url(card, result.reservation),
                "refusal": services_counter.issue_refusal(card),
                "wareki": to_wareki(card.birth_date),
            }
            for card in result.cards
        ]
    elif form.is_bound and status == 200:
        status = 400  # kept terms that no longer pass (cannot happen unless the form's rules changed)
    context = {"form": form, "result": result, "rows": rows}
    return render(request, "issuance/counter/search.html", context, status=status)


def _reservation_param(request: HttpRequest, card: Card) -> Reservation | None:
    """The booking the checklist completes: the card's own, or the one found by its code (checked)."""
    if card.reservation is not None:
        return card.reservation
    value = request.POST.get("reservation") or request.GET.get("reservation") or ""
    if not value.isdigit():
        return None
    reservation = (
        Reservation.objects.select_related("slot", "purpose")
        .prefetch_related("persons")
        .filter(pk=value)
        .first()
    )
    if reservation is None or not selectors_counter.reservation_holds_card(reservation, card):
        return None
    return reservation


def _refused(request: HttpRequest, card: Card, message: str) -> HttpResponse:
    context = {"card": card, "message": message, "checks": selectors_counter.card_checks(card)}
    return render(request, "issuance/counter/refused.html", context, status=409)


@require_permission(ISSUE_CARDS)
def checklist(request: HttpRequest, pk: int) -> HttpResponse:
    card = selectors_counter.card_for_counter(pk, actor=request_actor(request))
    if card is None:
        raise Http404
    problem = services_counter.issue_refusal(card)
    if problem:
        return _refused(request, card, problem)
    reservation = _reservation_param(request, card)
    now = timezone.now()
    checks = selectors_counter.card_checks(card)
    initial = {"seen": len(checks), "reservation": reservation.pk if reservation else None}
    outcome = outcome_of(request.POST.get("outcome", ""))
    form = CounterCheckForm(
        request.POST if request.method == "POST" else None,
        card=card,
        today=services_counter.counter_today(now),
        outcome=outcome,
        initial=initial,
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                result = services_counter.counter_check_record(
                    card_id=card.pk, check=form.check_input(), actor=request_actor(request), now=now
                )
            except services_counter.AlreadyIssuedError as exc:
                return _refused(request, card, str(exc))
            except services_counter.ChecklistError as exc:
                form.add_problems(exc.errors)
            except services_counter.AlreadyRecordedError as exc:
                data = request.POST.copy()
                data["seen"] = str(len(checks))  # the history below now shows it: a deliberate resubmit works
                form = CounterCheckForm(
                    data,
                    card=card,
                    today=services_counter.counter_today(now),
                    outcome=outcome,
                    initial=initial,
                )
                form.is_valid()
                form.add_error(None, str(exc))
                status = 409
            except CardError as exc:
                form.add_error(None, str(exc))
                status = 409
            else:
                return _done(request, card, result)
    context = {
        "card": card,
        "form": form,
        "reservation": reservation,
        "checks": checks,
        "birth_wareki": to_wareki(card.birth_date),
        "age": services_counter.age_on(card.birth_date, services_counter.counter_today(now)),
        "Outcome": CounterCheck.Outcome,
    }
    return render(request, "issuance/counter/checklist.html", context, status=status)


def _done(request: HttpRequest, card: Card, result: services_counter.CheckResult) -> HttpResponse:
    if result.check.outcome == CounterCheck.Outcome.ISSUED:
        messages.success(
            request,
            _("カード %(number)s（%(name)s さん）を交付済にしました。")
            % {"number": card.notice_number, "name": card.name},
        )
    else:
        messages.success(
            request,
            _("カード %(number)s を交付しなかったことを記録しました。") % {"number": card.notice_number},
        )
    search_url = reverse("issuance_counter:search")
    reservation = result.reservation
    if reservation is None:
        return redirect(search_url)
    if result.remaining:
        messages.info(
            request,
            _("予約 %(code)s には、確認がまだのカードがあと%(count)d枚あります。")
            % {"code": reservation.code, "count": result.remaining},
        )
        search_id = searches.search_save(request, scope=SEARCH_SCOPE, terms={"q": [reservation.code]})
        return redirect(searches.search_url(search_url, search_id, list="1"))
    if reservation.status == Reservation.Status.DONE:
        messages.success(request, _("予約 %(code)s を完了にしました。") % {"code": reservation.code})
    return redirect(search_url)
