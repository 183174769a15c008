"""Booking a pickup against the card list: the notice check booking asks, and the card's side of booked, cancelled
and no-show reservations (docs/booking.md, "Pickup bookings and the card list").

Booking knows nothing about cards; it calls the registered check for each person of a purpose that needs a notice
number and sends `apps.booking.hooks` signals inside its own transaction. Here:

- `notice_check`: the pair (notice number, date of birth) must name a card of this city that is waiting for a
  booking (`states.BOOKABLE`), not express, not linked to another active booking. Every refusal is the same
  sentence, so nobody can learn from the answer whether a number exists, whose it is or what state it is in.
- `card_booked`: the check ran without a lock on the card, so two bookings with one card (two slots, two tabs, two
  family members with the same number) could both pass it. The receiver locks the cards and checks again; the
  loser's booking is rolled back with the same sentence.
- `booking_cancelled` / `booking_no_show`: the cards linked to the reservation go back to "notice mailed".

A city that has not imported any card yet takes no pickup booking (no card can match); a city that does not tie
pickups to its card list turns off "needs a notice number" on the purpose.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils.translation import gettext as _

from apps.booking import hooks
from apps.booking.errors import NoticeRefusedError
from apps.booking.models import Reservation
from apps.issuance.cards.services import CardError, TransitionInput, card_transition
from apps.issuance.models import Card, CardState
from apps.issuance.states import BOOKABLE
from apps.security.actors import Actor, as_actor
from base.japanese import notice_number_normalise

_ACTIVE = (Reservation.Status.BOOKED, Reservation.Status.ARRIVED)


def refusal_message() -> str:
    """The one answer for an unknown number, a wrong date of birth, a card that cannot be booked now."""
    return _(
        "交付通知書の番号と生年月日の組み合わせを確認できませんでした。"
        "交付通知書に書かれた番号と生年月日をお確かめください。"
        "正しく入力しても予約できない場合は、市の窓口にお問い合わせください。"
    )


def _bookable(card: Card | None, birth_date: date, *, reservation_id: int | None = None) -> bool:
    if card is None or card.birth_date != birth_date or card.express or card.state not in BOOKABLE:
        return False
    linked = card.reservation
    return linked is None or linked.pk == reservation_id or linked.status not in _ACTIVE


def notice_check(check: hooks.NoticeCheck) -> str | None:
    """Booking's notice checker: None when the pair names a bookable card, else `refusal_message()`."""
    number = notice_number_normalise(check.notice_number)
    card = Card.objects.select_related("reservation").filter(notice_number=number).first() if number else None
    return None if _bookable(card, check.birth_date) else refusal_message()


def _actor(sent: Any, *, nobody: Actor) -> Actor:
    """Who booking says acted (an Actor, or a staff user), or `nobody` when it names no one."""
    return nobody if sent is None else as_actor(sent)


def _reservation_data(reservation: Reservation) -> dict[str, Any]:
    return {"reservation_id": reservation.pk, "reservation_code": reservation.code}


def card_booked(sender: Any, *, reservation: Reservation, actor: Any = None, **kwargs: Any) -> None:
    """Each person's card → booked, under the card's row lock; refuse (and so undo the booking) otherwise."""
    if not reservation.purpose.requires_notice_number:
        return
    persons = list(reservation.persons.all())
    numbers = [notice_number_normalise(p.notice_number) or "" for p in persons]
    # One lock order for every booking (card id): two family bookings sharing a card cannot deadlock.
    cards = {
        c.notice_number: c
        for c in Card.objects.select_for_update(of=("self",))
        .select_related("reservation")
        .filter(notice_number__in=[n for n in numbers if n])
        .order_by("pk")
    }
    seen: set[str] = set()
    for person, number in zip(persons, numbers, strict=True):
        card = cards.get(number)
        if number in seen or not _bookable(card, person.birth_date, reservation_id=reservation.pk):
            raise NoticeRefusedError(refusal_message())
        assert card is not None
        seen.add(number)
        try:
            card_transition(
                card_id=card.pk,
                change=TransitionInput(action="book", data=_reservation_data(reservation)),
                actor=_actor(actor, nobody=Actor.resident()),
                audit=False,  # booking audits its own write (staff) or has nobody to audit (resident)
            )
        except CardError as error:  # cannot happen under the lock; never let it become a 500
            raise NoticeRefusedError(refusal_message()) from error


def _release(reservation: Reservation, action: str, actor: Actor) -> None:
    cards = Card.objects.select_for_update().filter(reservation=reservation, state=CardState.BOOKED)
    for card in cards.order_by("pk"):
        card_transition(
            card_id=card.pk,
            change=TransitionInput(action=action, data=_reservation_data(reservation)),
            actor=actor,
            audit=False,
        )


def booking_cancelled(sender: Any, *, reservation: Reservation, actor: Any = None, **kwargs: Any) -> None:
    """The reservation's booked cards wait for a booking again (a card issued meanwhile is left alone)."""
    _release(reservation, "cancel_booking", _actor(actor, nobody=Actor.resident()))


def booking_no_show(sender: Any, *, reservation: Reservation, actor: Any = None, **kwargs: Any) -> None:
    # Nobody named: the no-show task (the system).
    _release(reservation, "no_show", _actor(actor, nobody=Actor.system()))


def connect() -> None:
    """Called once from IssuanceConfig.ready()."""
    hooks.register_notice_checker(notice_check)
    hooks.reservation_booked.connect(card_booked, dispatch_uid="issuance.card_booked")
    hooks.reservation_cancelled.connect(booking_cancelled, dispatch_uid="issuance.booking_cancelled")
    hooks.reservation_no_show.connect(booking_no_show, dispatch_uid="issuance.booking_no_show")
