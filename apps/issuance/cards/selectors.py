"""Reads of the card list pages: the filtered list, its counts per state, one card with its whole history.

The filter is a value (`CardFilter`), so the list, the counts and a bulk transition over "every card matching the
filter" all select the same cards, server-side, without carrying thousands of ids through a form.

The reads that show residents' data on a page (the list's page, a card's history, a bulk confirmation) take the
`actor` and record `personal_data.viewed` once per page view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from apps.issuance.models import Card, CardEvent, CardState, CounterCheck, NoticePrint
from apps.issuance.states import Action
from apps.security.actors import Actor
from apps.security.audit import audit_record
from base.japanese import kana_key, notice_number_normalise

VIEWED = "personal_data.viewed"

EXPRESS_YES = "yes"
EXPRESS_NO = "no"


@dataclass(frozen=True)
class CardFilter:
    state: str = ""
    batch: str = ""
    delivered_from: date | None = None
    delivered_to: date | None = None
    express: str = ""  # "", EXPRESS_YES or EXPRESS_NO
    q: str = ""  # a notice number (any width, with or without the hyphen) or the start of the kana

    def query(self) -> dict[str, str]:
        """The filter as query-string parameters (the names of CardFilterForm's fields), empty ones left out."""
        values = {
            "state": self.state,
            "batch": self.batch,
            "delivered_from": self.delivered_from.isoformat() if self.delivered_from else "",
            "delivered_to": self.delivered_to.isoformat() if self.delivered_to else "",
            "express": self.express,
            "q": self.q,
        }
        return {key: value for key, value in values.items() if value}


def search_condition(text: str) -> Q | None:
    """A notice number matches exactly; anything else matches the start of the folded kana key (so あげお,
    ｱｹﾞｵ and アゲオ find アゲオ タロウ). None when there is nothing to search for."""
    text = text.strip()
    if not text:
        return None
    number = notice_number_normalise(text)
    if number:
        return Q(notice_number=number)
    key = kana_key(text)
    return Q(kana_key__startswith=key) if key else None


def _without_state(filters: CardFilter) -> QuerySet[Card]:
    cards = Card.objects.all()
    if filters.batch:
        cards = cards.filter(delivery_batch=filters.batch)
    if filters.delivered_from:
        cards = cards.filter(delivery_date__gte=filters.delivered_from)
    if filters.delivered_to:
        cards = cards.filter(delivery_date__lte=filters.delivered_to)
    if filters.express == EXPRESS_YES:
        cards = cards.filter(express=True)
    elif filters.express == EXPRESS_NO:
        cards = cards.filter(express=False)
    condition = search_condition(filters.q)
    if condition is not None:
        cards = cards.filter(condition)
    return cards


def cards_filtered(filters: CardFilter) -> QuerySet[Card]:
    """The cards matching every condition of `filters`, in the list's order (delivery date, notice number)."""
    cards = _without_state(filters)
    if filters.state:
        cards = cards.filter(state=filters.state)
    return cards.order_by("delivery_date", "notice_number")


@dataclass(frozen=True)
class StateCount:
    state: str
    label: str
    count: int


def state_counts(filters: CardFilter) -> list[StateCount]:
    """How many cards of each state match the filter's other conditions (the state filter itself is ignored, so
    the line shows where the cards of a batch or a search stand). One query."""
    found = dict(
        _without_state(filters)
        .order_by()
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    return [StateCount(state.value, str(state.label), found.get(state.value, 0)) for state in CardState]


@dataclass
class CardListPage:
    page: Page[Card]
    counts: list[StateCount]


def card_list_page(
    filters: CardFilter, *, page_number: str | None, per_page: int, actor: Actor
) -> CardListPage:
    """One page of the card list and the counts per state, as shown to `actor`: recorded as a personal-data view
    (with the filter, when there is one)."""
    page = Paginator(cards_filtered(filters), per_page).get_page(page_number)
    counts = state_counts(filters)
    audit_record(
        action=VIEWED,
        actor=actor,
        target="issuance:cards",
        summary=_("カード一覧（%(count)d件中 %(page)dページ目）")
        % {"count": page.paginator.count, "page": page.number},
        after={"filters": filters.query()} if filters.query() else None,
    )
    return CardListPage(page=page, counts=counts)


def delivery_batches() -> list[str]:
    """The delivery batches of the city's cards, newest name first (batch names are usually dates)."""
    rows = Card.objects.exclude(delivery_batch="").order_by("-delivery_batch")
    return list(rows.values_list("delivery_batch", flat=True).distinct())


def allowed_condition(action: Action) -> Q:
    """The cards `action` may be applied to now, as a query (the same rule as `states.allowed`)."""
    condition = Q(state__in=[state.value for state in action.sources])
    if action.express is not None:
        condition &= Q(express=action.express)
    return condition


@dataclass
class BulkPreview:
    total: int
    will_change: int
    skipped_total: int
    skipped: list[Card]  # the first of them (by notice number)


SKIPPED_SHOWN = 200


def bulk_preview(cards: QuerySet[Card], action: Action, *, shown: int = SKIPPED_SHOWN) -> BulkPreview:
    """How many of `cards` the action will change, and (the first `shown` of) those it will skip. Three
    queries."""
    condition = allowed_condition(action)
    total = cards.count()
    will_change = cards.filter(condition).count()
    skipped = list(cards.exclude(condition).order_by("notice_number")[:shown])
    return BulkPreview(
        total=total, will_change=will_change, skipped_total=total - will_change, skipped=skipped
    )


def bulk_preview_viewed(cards: QuerySet[Card], action: Action, *, actor: Actor) -> BulkPreview:
    """`bulk_preview` as the cards' bulk confirmation page shows it to `actor`: recorded as a personal-data
    view."""
    preview = bulk_preview(cards, action)
    audit_record(
        action=VIEWED,
        actor=actor,
        target="issuance:cards:bulk",
        summary=_("一括操作の確認（%(action)s、%(count)d件）")
        % {"action": action.label, "count": preview.total},
    )
    return preview


def card_detail(pk: int) -> QuerySet[Card]:
    """The card page's card, with its booking and the booking's frame (use with get_object_or_404)."""
    return Card.objects.select_related("reservation__slot__counter_group", "import_batch").filter(pk=pk)


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    kind: str  # "event", "print" or "check"
    item: Any  # CardEvent, NoticePrint or CounterCheck


def card_history(card: Card, *, actor: Actor) -> list[HistoryEntry]:
    """Everything that happened to the card, oldest first: its events, the notice letters printed for it and
    the counter's checklists. Three queries. Shown to `actor` with the card: recorded as a personal-data view."""
    audit_record(
        action=VIEWED,
        actor=actor,
        target=f"Card:{card.pk}",
        summary=_("カード %(number)s") % {"number": card.notice_number},
    )
    events = list(CardEvent.objects.filter(card=card).select_related("by").order_by("at", "pk"))
    entries = [HistoryEntry(event.at, "event", event) for event in events]
    # A print recorded as the card's own event (data["print_id"]) is shown once, as that event.
    printed = {event.data.get("print_id") for event in events if isinstance(event.data, dict)}
    entries += [
        HistoryEntry(row.at, "print", row)
        for row in NoticePrint.objects.filter(cards=card).select_related("by").order_by("at", "pk")
        if row.pk not in printed
    ]
    entries += [
        HistoryEntry(row.at, "check", row)
        for row in CounterCheck.objects.filter(card=card).select_related("by").order_by("at", "pk")
    ]
    order = {"event": 0, "print": 1, "check": 2}
    # A checklist and the event it produced share their time: the event first, as it happened.
    return sorted(entries, key=lambda entry: (entry.at, order[entry.kind]))


# The counter's search (counter/selectors.py) and the bench share these two.
SEARCH_LIMIT = 50


def card_by_notice_number(text: str) -> Card | None:
    """The card with this notice number, typed in any width, with or without the hyphen."""
    number = notice_number_normalise(text)
    return Card.objects.filter(notice_number=number).first() if number else None


def cards_by_kana(*, kana: str, birth_date: date) -> QuerySet[Card]:
    """Cards whose folded kana (DOMAIN.md: width, hiragana/katakana, dash variants, spaces) and date of birth
    match; uses the (kana_key, birth_date) index."""
    return Card.objects.filter(kana_key=kana_key(kana), birth_date=birth_date)[:SEARCH_LIMIT]
