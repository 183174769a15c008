"""Reads on the card list. The counter's search lives here so the counter pages and the bench share it."""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet

from apps.issuance.models import Card
from base.japanese import kana_key, notice_number_normalise

SEARCH_LIMIT = 50


def card_by_notice_number(text: str) -> Card | None:
    """The card with this notice number, typed in any width, with or without the hyphen."""
    number = notice_number_normalise(text)
    return Card.objects.filter(notice_number=number).first() if number else None


def cards_by_kana(*, kana: str, birth_date: date) -> QuerySet[Card]:
    """Cards whose folded kana (DOMAIN.md: width, hiragana/katakana, dash variants, spaces) and date of birth
    match; uses the (kana_key, birth_date) index."""
    return Card.objects.filter(kana_key=kana_key(kana), birth_date=birth_date)[:SEARCH_LIMIT]
