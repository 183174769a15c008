"""The counter checklist: record the identity check and hand the card over (or record why not), and complete the
booking, in one transaction (docs/counter.md).

The rules of the checklist live here (`check_problems`), so the form shows the same messages the service
enforces: one A document, or two different B documents; a proxy needs a reason and their own documents; a card
holder under 15 needs their legal guardian; the receipt must be signed to issue; not issuing needs a reason.
Documents are recorded by kind (the names of the city's IdentityDocument rows), never by their numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from apps.booking.calendar.hours import TOKYO
from apps.booking.errors import BookingError
from apps.booking.models import Reservation
from apps.booking.staff import services as services_staff
from apps.issuance.cards.services import CardError, TransitionInput, card_transition, refusal
from apps.issuance.counter import selectors as selectors_counter
from apps.issuance.models import Card, CardEvent, CardState, CounterCheck, IdentityDocument, ProxyReason
from apps.issuance.states import ACTIONS
from apps.security.actors import Actor
from apps.security.audit import audit_record
from apps.security.mynumber import MESSAGE as INDIVIDUAL_NUMBER_MESSAGE
from apps.security.roles import ISSUE_CARDS, ensure_permission
from base.mynumber import contains_individual_number

Outcome = CounterCheck.Outcome
IdentityKind = CounterCheck.IdentityKind
GUARDIAN_AGE = 15  # under this age a legal guardian comes too (DOMAIN.md "At the counter")
REASON_MAX = 300


@dataclass(frozen=True)
class CheckInput:
    """What the counter staff recorded. Documents are IdentityDocument ids of the city's active list."""

    outcome: str
    identity_kind: str = IdentityKind.ONE_A
    documents: tuple[int, ...] = ()
    proxy: bool = False
    proxy_reason_id: int | None = None
    proxy_documents: tuple[int, ...] = ()
    guardian: bool = False
    old_cards: tuple[str, ...] = ()
    receipt_signed: bool = False
    not_issued_reason: str = ""
    # A booking found by its code whose cards are not linked yet (matched by its persons' notice numbers).
    reservation_id: int | None = None
    # How many checks of this card the form showed: a second submission of the same form is refused.
    seen_checks: int | None = None


@dataclass(frozen=True)
class CheckResult:
    check: CounterCheck
    event: CardEvent
    reservation: Reservation | None
    remaining: int  # cards of the booking still waiting for their check


class ChecklistError(CardError):
    """The checklist is incomplete: messages per form field name ("" for the whole form)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__(" ".join(m for messages in errors.values() for m in messages))


class AlreadyIssuedError(CardError):
    """The card was issued meanwhile (a second submission, or another counter)."""


class AlreadyRecordedError(CardError):
    """A check of this card was recorded after the form was shown (a second submission of a "not issued")."""


def age_on(birth_date: date, day: date) -> int:
    """Completed years on `day` (a birthday counts from the day itself)."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def guardian_needed(card: Card, day: date) -> bool:
    return age_on(card.birth_date, day) < GUARDIAN_AGE


def counter_today(now: datetime) -> date:
    return now.astimezone(TOKYO).date()


def _documents(ids: Iterable[int]) -> tuple[list[IdentityDocument], bool]:
    """The active documents of `ids`, and whether every id named one."""
    wanted = set(ids)
    found = list(IdentityDocument.objects.filter(pk__in=wanted, active=True).order_by("kind", "order", "pk"))
    return found, len(found) == len(wanted)


def _identity_ok(documents: list[IdentityDocument], kind: str) -> bool:
    a = [d for d in documents if d.kind == IdentityDocument.Kind.A]
    b = [d for d in documents if d.kind == IdentityDocument.Kind.B]
    if kind == IdentityKind.ONE_A:
        return len(a) == 1 and not b
    return len(b) == 2 and not a and b[0].pk != b[1].pk


def check_problems(*, check: CheckInput, card: Card, today: date) -> dict[str, list[str]]:
    """Everything wrong with `check` for `card` on `today`, keyed by the checklist form's field names."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if check.outcome not in Outcome.values:
        add("", _("「交付済にする」か「交付しなかった」を選んでください。"))
        return errors
    issuing = check.outcome == Outcome.ISSUED
    documents, known = _documents(check.documents)
    proxy_documents, proxy_known = _documents(check.proxy_documents)
    if check.identity_kind not in IdentityKind.values:
        add("identity_kind", _("本人確認の方法を選んでください。"))
    elif not known:
        add("", _("本人確認書類の一覧が変わりました。選び直してください。"))
    elif issuing and not _identity_ok(documents, check.identity_kind):
        if check.identity_kind == IdentityKind.ONE_A:
            add("document_a", _("A書類を1点選んでください。"))
        else:
            add("documents_b", _("B書類を異なる種類で2点選んでください。"))
    if check.proxy:
        reason_ok = (
            check.proxy_reason_id is not None
            and ProxyReason.objects.filter(pk=check.proxy_reason_id, active=True).exists()
        )
        if not reason_ok and (issuing or check.proxy_reason_id is not None):
            add("proxy_reason", _("代理人による受取の理由を選んでください。"))
        if not proxy_known:
            add("", _("本人確認書類の一覧が変わりました。選び直してください。"))
        elif issuing and not (
            _identity_ok(proxy_documents, IdentityKind.ONE_A)
            or _identity_ok(proxy_documents, IdentityKind.TWO_B)
        ):
            add("proxy_documents", _("代理人の本人確認書類を選んでください（A書類1点、またはB書類2点）。"))
    if issuing and not check.guardian and guardian_needed(card, today):
        add(
            "guardian",
            _("15歳未満の方です。法定代理人が同行し、その本人確認をしたことを記録してください。"),
        )
    if any(value not in CounterCheck.OldCard.values for value in check.old_cards):
        add("old_cards", _("回収したカードを選び直してください。"))
    if issuing and not check.receipt_signed:
        add("receipt_signed", _("受領書に署名をもらってから交付してください。"))
    reason = check.not_issued_reason.strip()
    if not issuing and not reason:
        add("not_issued_reason", _("交付しなかった理由を入力してください。"))
    if len(reason) > REASON_MAX:
        add("not_issued_reason", _("理由は%(max)d文字以内で入力してください。") % {"max": REASON_MAX})
    if contains_individual_number(reason):
        add("not_issued_reason", str(INDIVIDUAL_NUMBER_MESSAGE))
    return errors


def already_issued_message(card: Card) -> str:
    event = selectors_counter.issued_event(card)
    if event is None:
        return _("カード %(number)s はすでに交付済です。") % {"number": card.notice_number}
    return _("カード %(number)s はすでに交付済です（%(at)s、担当 %(by)s）。") % {
        "number": card.notice_number,
        "at": date_format(timezone.localtime(event.at, TOKYO), "Y年n月j日 H:i"),
        "by": event.by_label or "—",
    }


def issue_refusal(card: Card) -> str | None:
    """Why this card cannot be handed over at the counter now; None when the checklist may be used."""
    if card.state == CardState.ISSUED:
        return already_issued_message(card)
    return refusal(ACTIONS["issue"], card)


def _reservation_for(card: Card, reservation_id: int | None) -> Reservation | None:
    """The booking this visit completes, locked: the card's own, or the one found by its code (checked)."""
    wanted = card.reservation_id or reservation_id
    if wanted is None:
        return None
    reservation = (
        Reservation.objects.select_for_update(of=("self",))
        .prefetch_related("persons")
        .filter(pk=wanted)
        .first()
    )
    if reservation is None or not selectors_counter.reservation_holds_card(reservation, card):
        raise CardError(_("この予約のカードではありません。予約番号から探し直してください。"))
    return reservation


def _booking_advance(reservation: Reservation, *, actor: Actor, now: datetime) -> int:
    """The resident is here: the booking becomes arrived, and done once every card of it has its check.

    A booking that is already done, cancelled or marked no-show is left as it is (the card is still handed over:
    the resident came). Returns how many cards of the booking still wait.
    """
    remaining = len(selectors_counter.unfinished_cards(reservation))
    status = Reservation.Status
    steps: list[str] = []
    if reservation.status == status.BOOKED:
        steps.append(status.ARRIVED)
    if reservation.status in (status.BOOKED, status.ARRIVED) and remaining == 0:
        steps.append(status.DONE)
    for step in steps:
        try:
            services_staff.reservation_mark(reservation_id=reservation.pk, status=step, actor=actor, now=now)
        except BookingError as exc:
            raise CardError(
                _("予約 %(code)s を更新できなかったため、交付を記録しませんでした：%(why)s")
                % {"code": reservation.code, "why": exc}
            ) from exc
    return remaining


def counter_check_record(*, card_id: int, check: CheckInput, actor: Actor, now: datetime) -> CheckResult:
    """Record the checklist and issue the card (or record why not) and advance its booking, all or nothing.

    Raises AlreadyIssuedError, AlreadyRecordedError, ChecklistError (with messages per field) or CardError; nothing is
    written then.
    """
    ensure_permission(actor, ISSUE_CARDS)
    issuing = check.outcome == Outcome.ISSUED
    with transaction.atomic():
        card = Card.objects.select_for_update().filter(pk=card_id).first()
        if card is None:
            raise CardError(_("カードが見つかりません。"))
        if card.state == CardState.ISSUED:
            raise AlreadyIssuedError(already_issued_message(card))
        if (
            check.seen_checks is not None
            and CounterCheck.objects.filter(card=card).count() != check.seen_checks
        ):
            raise AlreadyRecordedError(
                _(
                    "このカードの確認結果は、この画面を開いた後に記録されています（二重送信など）。"
                    "履歴を確かめてから、必要ならもう一度入力してください。"
                )
            )
        problem = refusal(ACTIONS["issue" if issuing else "not_issue"], card)
        if problem:
            raise CardError(problem)
        errors = check_problems(check=check, card=card, today=counter_today(now))
        if errors:
            raise ChecklistError(errors)
        reservation = _reservation_for(card, check.reservation_id)
        documents, _known = _documents(check.documents)
        proxy_documents, _proxy_known = _documents(check.proxy_documents) if check.proxy else ([], True)
        proxy_reason = (
            ProxyReason.objects.filter(pk=check.proxy_reason_id).first()
            if check.proxy and check.proxy_reason_id
            else None
        )
        reason = check.not_issued_reason.strip()
        record = CounterCheck.objects.create(
            card=card,
            reservation=reservation,
            identity_kind=check.identity_kind,
            documents=[d.name_ja for d in documents],
            proxy=check.proxy,
            proxy_reason=proxy_reason.name_ja if proxy_reason else "",
            proxy_documents=[d.name_ja for d in proxy_documents],
            guardian=check.guardian,
            old_cards=[value for value in CounterCheck.OldCard.values if value in check.old_cards],
            receipt_signed=check.receipt_signed,
            outcome=check.outcome,
            not_issued_reason="" if issuing else reason,
            by=actor.user,
            at=now,
        )
        event = card_transition(
            card_id=card.pk,
            change=TransitionInput(
                action="issue" if issuing else "not_issue",
                reason="" if issuing else reason,
                data={
                    "counter_check": record.pk,
                    "identity_kind": record.identity_kind,
                    "proxy": record.proxy,
                    **({"reservation": reservation.code} if reservation else {}),
                },
            ),
            actor=actor,
            now=now,
            audit=False,
        )
        remaining = 0
        if reservation is not None:
            remaining = _booking_advance(reservation, actor=actor, now=now)
            reservation.refresh_from_db(fields=["status"])
        audit_record(
            action="card.issue" if issuing else "card.not_issue",
            actor=actor,
            target=f"Card:{card.pk}",
            summary=f"{card.notice_number}: {ACTIONS['issue' if issuing else 'not_issue'].label}",
            before={"state": event.from_state},
            after={
                "state": event.to_state,
                "counter_check": record.pk,
                "identity_kind": record.identity_kind,
                "documents": record.documents,
                "proxy": record.proxy,
                "proxy_reason": record.proxy_reason,
                "proxy_documents": record.proxy_documents,
                "guardian": record.guardian,
                "old_cards": record.old_cards,
                "receipt_signed": record.receipt_signed,
                **({"reason": record.not_issued_reason} if record.not_issued_reason else {}),
                **({"reservation": reservation.code} if reservation else {}),
            },
        )
    return CheckResult(check=record, event=event, reservation=reservation, remaining=remaining)
