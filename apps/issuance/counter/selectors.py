"""Reads of the counter: find the resident's cards from what they bring (docs/counter.md).

One search box takes a booking code, a notice number (any width, with or without the hyphen) or a kana name,
which needs the date of birth as well. Each kind of input has a shape of its own, so the box tells them apart
without asking: a booking code is 8 letters and digits from booking's alphabet, a notice number 3 + 6.

The search and the checklist's card show residents' data: they take the `actor` and record `personal_data.viewed`,
the search with what was searched for (a 個人番号 never gets that far: the form refuses it).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from django.utils.translation import gettext as _

from apps.booking.models import Reservation
from apps.issuance.cards import selectors as card_selectors
from apps.issuance.models import Card, CardEvent, CardState, CounterCheck, EventKind
from apps.security.actors import Actor
from apps.security.audit import audit_record
from base.japanese import notice_number_normalise

# Booking's codes: 8 characters of A–Z and 2–9 without I and O (apps/booking/reservations/services.py `_new_code`).
_BOOKING_CODE = re.compile(r"[A-HJ-NP-Z2-9]{8}")
_DASHES = "-‐‑‒–—―−ー"


class Kind:
    BOOKING = "booking"
    NOTICE = "notice"
    KANA = "kana"


@dataclass
class SearchResult:
    kind: str
    cards: list[Card] = field(default_factory=list)
    reservation: Reservation | None = None


def booking_code_normalise(text: str) -> str | None:
    """`ABCD2345` from any width or case, spaces and hyphens dropped; None when it is not that shape."""
    folded = unicodedata.normalize("NFKC", text or "").upper()
    folded = "".join(c for c in folded if c not in _DASHES and not c.isspace())
    return folded if _BOOKING_CODE.fullmatch(folded) else None


def search_kind(text: str, birth_date: date | None) -> str | None:
    """What the search box holds, or None when it is none of the three (kana needs a date of birth)."""
    if notice_number_normalise(text):
        return Kind.NOTICE
    if booking_code_normalise(text):
        return Kind.BOOKING
    if birth_date is not None and text.strip():
        return Kind.KANA
    return None


def reservation_cards(reservation: Reservation) -> list[Card]:
    """The cards a booking comes for: those linked to it, else the cards of its persons' notice numbers."""
    linked = list(Card.objects.filter(reservation=reservation).order_by("pk"))
    if linked:
        return linked
    numbers = [
        number
        for number in (notice_number_normalise(p.notice_number) for p in reservation.persons.all())
        if number
    ]
    return list(Card.objects.filter(notice_number__in=numbers).order_by("pk")) if numbers else []


def reservation_holds_card(reservation: Reservation, card: Card) -> bool:
    """True when `card` is one of the cards `reservation` comes for (see `reservation_cards`)."""
    if card.reservation_id == reservation.pk:
        return True
    if Card.objects.filter(reservation=reservation).exists():
        return False
    return any(
        notice_number_normalise(p.notice_number) == card.notice_number for p in reservation.persons.all()
    )


def counter_search(*, text: str, birth_date: date | None, actor: Actor) -> SearchResult | None:
    """The cards the counter is looking for; None when the input is none of the three kinds. A search is
    recorded as `actor`'s personal-data view, with what was searched for and the notice numbers found."""
    result = _search(text=text, birth_date=birth_date)
    if result is not None:
        audit_record(
            action="personal_data.viewed",
            actor=actor,
            target="issuance:counter_search",
            summary=_("窓口での検索（%(count)d件）") % {"count": len(result.cards)},
            after={
                "kind": result.kind,
                "query": text,
                "birth_date": birth_date,
                "found": [card.notice_number for card in result.cards],
            },
        )
    return result


def _search(*, text: str, birth_date: date | None) -> SearchResult | None:
    kind = search_kind(text, birth_date)
    if kind == Kind.NOTICE:
        card = card_selectors.card_by_notice_number(text)
        if card is not None and birth_date is not None and card.birth_date != birth_date:
            card = None
        return SearchResult(kind, [card] if card else [])
    if kind == Kind.BOOKING:
        reservation = (
            Reservation.objects.select_related("slot", "purpose")
            .prefetch_related("persons")
            .filter(code=booking_code_normalise(text))
            .first()
        )
        if reservation is None:
            return SearchResult(kind)
        return SearchResult(kind, reservation_cards(reservation), reservation)
    if kind == Kind.KANA:
        assert birth_date is not None
        return SearchResult(kind, list(card_selectors.cards_by_kana(kana=text, birth_date=birth_date)))
    return None


def card_for_counter(card_id: int, *, actor: Actor) -> Card | None:
    """The checklist's card; shown to `actor`: recorded as a personal-data view when it exists."""
    card = Card.objects.select_related("reservation__slot", "reservation__purpose").filter(pk=card_id).first()
    if card is not None:
        audit_record(
            action="personal_data.viewed",
            actor=actor,
            target=f"Card:{card.pk}",
            summary=_("窓口の確認画面: %(number)s") % {"number": card.notice_number},
        )
    return card


def card_checks(card: Card) -> list[CounterCheck]:
    return list(CounterCheck.objects.filter(card=card).select_related("by").order_by("-at", "-pk"))


def unfinished_cards(reservation: Reservation) -> list[Card]:
    """The booking's cards that still wait for their check (reads fresh rows: call under the booking's lock)."""
    cards = reservation_cards(reservation)
    checked = set(
        CounterCheck.objects.filter(reservation=reservation, card__in=cards).values_list("card_id", flat=True)
    )
    return [c for c in cards if c.pk not in checked and c.state != CardState.ISSUED]


def issued_event(card: Card) -> CardEvent | None:
    """When and by whom the card was issued, for the "already issued" message."""
    return CardEvent.objects.filter(card=card, kind=EventKind.ISSUED).order_by("-at", "-pk").first()
