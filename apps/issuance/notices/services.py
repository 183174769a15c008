"""Printing notice letters: choose the cards, draw the PDF, and record the print (docs/notices.md).

The PDF is drawn before the transaction, from a plain read: drawing thousands of letters takes seconds, and
counter staff must not wait on row locks meanwhile. The transaction then locks the cards, checks again that every
one may still be printed (a card issued in between refuses the whole job: nothing is written and no PDF is given
out), and records the print log row, a `printed` event per card (and a `reminder` event for reminders) and one
audit event. Optionally it marks the set-up cards as notice mailed (`cards_transition`, audited on its own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.booking.models import CounterGroup, Purpose
from apps.booking.reservations.selectors import city_base_url, city_name, city_phone
from apps.issuance.cards.services import (
    BulkResult,
    CardError,
    TransitionInput,
    cards_transition,
    event_actor,
    settings_ensure,
)
from apps.issuance.models import Card, CardEvent, CardState, EventKind, NoticePrint
from apps.issuance.notices import pdf as notices
from apps.issuance.states import ACTIONS, allowed
from apps.security.actors import Actor
from apps.security.audit import audit_record
from apps.security.roles import MANAGE_CARDS, ensure_permission

# How many refused notice numbers a message lists before "ほか N件".
_LISTED = 20
# The states a staff member may pick to print from, besides a delivery batch.
PRINTABLE_STATES = (CardState.DELIVERED, CardState.SET_UP, CardState.NOTICE_MAILED, CardState.RETURNED_MAIL)


# A large delivery is printed in parts of this many letters (in postal-code order), so that each PDF is made
# within a web request's time (about 10 ms a letter; nginx gives a request 60 s).
PART_SIZE = 1000


@dataclass(frozen=True)
class Selection:
    """Which cards to print: explicit ids (one card, a work list), and/or a delivery batch and/or a state; `part`
    (1, 2, ...) takes that part of PART_SIZE letters of the selection in postal-code order (0: all)."""

    card_ids: Sequence[int] | None = None
    batch: str = ""
    state: str = ""
    part: int = 0

    def queryset(self) -> QuerySet[Card]:
        cards = Card.objects.all()
        if self.card_ids is not None:
            cards = cards.filter(pk__in=list(self.card_ids))
        if self.batch:
            cards = cards.filter(delivery_batch=self.batch)
        if self.state:
            cards = cards.filter(state=self.state)
        if self.part:
            first = (self.part - 1) * PART_SIZE
            ordered = cards.order_by("postal_code", "address", "notice_number").values_list("pk", flat=True)
            cards = Card.objects.filter(pk__in=list(ordered[first : first + PART_SIZE]))
        return cards

    def parts(self) -> int:
        """Into how many parts the whole selection (whatever `part` says) divides."""
        whole = Selection(card_ids=self.card_ids, batch=self.batch, state=self.state).queryset().count()
        return -(-whole // PART_SIZE)


@dataclass
class Preview:
    count: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (notice number, why)
    to_mark: int = 0  # set-up cards that "mark as notice mailed" would move
    parts: int = 1  # how many parts of PART_SIZE the whole selection makes
    part_size: int = PART_SIZE


@dataclass(frozen=True)
class PrintResult:
    pdf: bytes
    log: NoticePrint
    marked: BulkResult | None = None


def _fields() -> tuple[str, ...]:
    return ("id", "notice_number", "name", "postal_code", "address", "delivery_date", "state", "express")


def _why(card: Card, kind: str) -> str | None:
    """Why `card` cannot get a letter of `kind`: a final or cancelled card gets none; a reminder only goes to a
    card whose notice was mailed and that is still waiting."""
    if not allowed(ACTIONS["print"], card.state, card.express):
        return _("「%(state)s」のカードには通知書を印刷できません。") % {"state": CardState(card.state).label}
    if kind == NoticePrint.Kind.REMINDER and not allowed(ACTIONS["remind"], card.state, card.express):
        return _("再通知は「通知書発送済」のカードにだけ印刷できます（現在「%(state)s」）。") % {
            "state": CardState(card.state).label
        }
    return None


def notices_preview(*, selection: Selection, kind: str, mark_mailed: bool = False) -> Preview:
    """What a print would do, without doing it: how many letters, which cards would be refused and why."""
    preview = Preview(parts=selection.parts(), part_size=PART_SIZE)
    for card in selection.queryset().only(*_fields()).order_by("notice_number").iterator(chunk_size=2000):
        problem = _why(card, kind)
        if problem:
            preview.refused.append((card.notice_number, problem))
            continue
        preview.count += 1
        if mark_mailed and allowed(ACTIONS["mail_notice"], card.state, card.express):
            preview.to_mark += 1
    return preview


def refused_message(refused: Sequence[tuple[str, str]]) -> str:
    """One message naming the refused cards (the first few, then how many more)."""
    listed = "、".join(f"{number}（{why}）" for number, why in refused[:_LISTED])
    more = len(refused) - _LISTED
    text = ngettext(
        "印刷できないカードが %(count)d 件あります: %(listed)s",
        "印刷できないカードが %(count)d 件あります: %(listed)s",
        len(refused),
    ) % {"count": len(refused), "listed": listed}
    if more > 0:
        text += _(" ほか %(more)d 件") % {"more": more}
    return text + _("。これらを選択から外してから印刷してください。")


def sender_get() -> notices.Sender:
    """The city's side of every letter: name, phone, the pickup counter, what to bring, its address, policy."""
    purpose = Purpose.objects.select_related("counter_group").filter(code="pickup").first()
    group = purpose.counter_group if purpose else CounterGroup.objects.filter(active=True).first()
    counter = ""
    if group is not None:
        counter = f"{group.name}（{group.location}）" if group.location else group.name
    return notices.Sender(
        city_name=city_name("ja"),
        phone=city_phone(),
        counter=counter,
        bring=purpose.bring_ja if purpose else "",
        base_url=city_base_url(),
        retention_months=settings_ensure().retention_months,
    )


def _validate(variant: str, kind: str) -> None:
    if variant not in NoticePrint.Variant.values:
        raise CardError(_("用紙を選んでください。"))
    if kind not in NoticePrint.Kind.values:
        raise CardError(_("通知書の種類を選んでください。"))


def notices_print(
    *,
    selection: Selection,
    variant: str,
    kind: str,
    actor: Actor,
    mark_mailed: bool = False,
    now: datetime | None = None,
    today: date | None = None,
) -> PrintResult:
    """Draw the letters of the selected cards in one PDF (sorted for bulk mail) and record the print.

    Raises CardError (nothing written) when nothing is selected, or when any selected card may not be printed,
    with a message listing those cards."""
    ensure_permission(actor, MANAGE_CARDS)
    _validate(variant, kind)
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    cards = list(selection.queryset().only(*_fields()))
    if not cards:
        raise CardError(_("印刷するカードがありません。納品回や状態の選択を確かめてください。"))
    if len(cards) > PART_SIZE:
        raise CardError(
            _(
                "%(count)d通は一度に印刷できません。郵便番号の順に%(size)d通ずつ、%(parts)d回に分けて印刷してください"
                "（「分けて印刷するときの回」）。"
            )
            % {"count": len(cards), "size": PART_SIZE, "parts": -(-len(cards) // PART_SIZE)}
        )
    refused = sorted((c.notice_number, why) for c in cards if (why := _why(c, kind)))
    if refused:
        raise CardError(refused_message(refused))
    ordered = sorted(cards, key=notices.mail_order)
    pdf = notices.notices_pdf(
        ordered,
        sender=sender_get(),
        variant=variant,
        kind=kind,
        today=today,
        title=_print_title(selection, kind),
    )
    ids = [card.pk for card in cards]
    by, by_label = event_actor(actor)
    with transaction.atomic():
        locked = list(Card.objects.select_for_update().filter(pk__in=ids).only(*_fields()).order_by("pk"))
        refused = sorted((c.notice_number, why) for c in locked if (why := _why(c, kind)))
        if refused or len(locked) != len(ids):
            raise CardError(
                refused_message(refused)
                if refused
                else _("印刷中にカードが削除されました。もう一度お試しください。")
            )
        log = NoticePrint.objects.create(
            variant=variant,
            kind=kind,
            delivery_batch=selection.batch[:40],
            card_count=len(locked),
            by=by,
        )
        log.cards.set(ids)
        data = {"print_id": log.pk, "variant": variant, "kind": kind}
        kinds = [EventKind.PRINTED]
        if kind == NoticePrint.Kind.REMINDER:
            # The reminder is an event of its own (the work list of unclaimed cards counts from it).
            kinds.append(EventKind.REMINDER)
        events = [
            CardEvent(
                card_id=card.pk,
                kind=event_kind,
                from_state=card.state,
                to_state=card.state,
                at=now,
                by=by,
                by_label=by_label[:150],
                data=data,
            )
            for event_kind in kinds
            for card in locked
        ]
        if kind == NoticePrint.Kind.REMINDER:
            Card.objects.filter(pk__in=ids).update(notice_mailed_at=now, updated_at=now)
        else:
            Card.objects.filter(pk__in=ids).update(updated_at=now)
        CardEvent.objects.bulk_create(events, batch_size=2000)
        numbers = sorted(card.notice_number for card in locked)
        audit_record(
            action="card.notices_printed",
            actor=actor,
            target=f"NoticePrint:{log.pk}",
            summary=_("%(kind)s（%(variant)s）を印刷（%(count)d件%(batch)s）")
            % {
                "kind": NoticePrint.Kind(kind).label,
                "variant": NoticePrint.Variant(variant).label,
                "count": len(locked),
                "batch": _("、納品回 %(batch)s") % {"batch": selection.batch} if selection.batch else "",
            },
            after={"count": len(locked), "variant": variant, "kind": kind, "notice_numbers": numbers[:1000]},
        )
        marked = None
        if mark_mailed and kind == NoticePrint.Kind.NOTICE:
            to_mark = [c.pk for c in locked if allowed(ACTIONS["mail_notice"], c.state, c.express)]
            marked = (
                cards_transition(
                    card_ids=to_mark,
                    change=TransitionInput(action="mail_notice", data={"print_id": log.pk}),
                    actor=actor,
                    now=now,
                )
                if to_mark
                else BulkResult()
            )
    return PrintResult(pdf=pdf, log=log, marked=marked)


def _print_title(selection: Selection, kind: str) -> str:
    title = NoticePrint.Kind(kind).label
    return f"{title} {selection.batch}" if selection.batch else str(title)
