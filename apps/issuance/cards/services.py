"""Writes on the card list: every change of a card's state goes through `card_transition` (one card) or
`cards_transition` (a selection), which consult `states.ACTIONS`, lock the rows, record a CardEvent each and audit.

Other services of this app (import, notices, counter) build on these two; nothing else assigns `Card.state`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.issuance.models import (
    CancelReason,
    Card,
    CardEvent,
    CardState,
    DisposalMethod,
    IdentityDocument,
    IssuanceSettings,
    ProxyReason,
)
from apps.issuance.states import ACTIONS, Action, allowed
from apps.security.actors import Actor
from apps.security.audit import audit_record
from apps.security.roles import MANAGE_CARDS, ensure_permission


class CardError(Exception):
    """A refused card operation; the message is for the staff member (or resident) and already translated."""


@dataclass(frozen=True)
class TransitionInput:
    action: str
    reason: str = ""
    disposal_method: str = ""
    cancel_reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def settings_ensure() -> IssuanceSettings:
    row, _created = IssuanceSettings.objects.get_or_create(pk=1)
    return row


_DOCUMENTS = [
    ("a", "運転免許証", "Driving licence"),
    ("a", "運転経歴証明書", "Driving history certificate"),
    ("a", "パスポート", "Passport"),
    ("a", "在留カード", "Residence card"),
    ("a", "特別永住者証明書", "Special permanent resident certificate"),
    ("a", "写真付き住民基本台帳カード", "Basic resident register card with photo"),
    ("a", "身体障害者手帳", "Physical disability certificate"),
    ("a", "精神障害者保健福祉手帳", "Mental disability certificate"),
    ("a", "療育手帳", "Rehabilitation certificate"),
    ("b", "資格確認書", "Health insurance eligibility certificate"),
    ("b", "年金手帳・基礎年金番号通知書", "Pension book or notice"),
    ("b", "介護保険被保険者証", "Long-term care insurance card"),
    ("b", "学生証（写真付き）", "Student card with photo"),
    ("b", "社員証（写真付き）", "Employee card with photo"),
    ("b", "交付通知書", "Notice letter"),
]
_PROXY_REASONS = [
    ("病気・けが", "Illness or injury"),
    ("身体の障害", "Disability"),
    ("高齢", "Old age"),
    ("妊娠", "Pregnancy"),
    ("施設への入所", "Living in a care facility"),
    ("長期の入院", "Long hospital stay"),
]


def defaults_ensure() -> None:
    """A new city's card policy, identity documents and proxy reasons (idempotent; cities edit them later)."""
    settings_ensure()
    if not IdentityDocument.objects.exists():
        IdentityDocument.objects.bulk_create(
            IdentityDocument(kind=kind, name_ja=ja, name_en=en, order=n)
            for n, (kind, ja, en) in enumerate(_DOCUMENTS)
        )
    if not ProxyReason.objects.exists():
        ProxyReason.objects.bulk_create(
            ProxyReason(name_ja=ja, name_en=en, order=n) for n, (ja, en) in enumerate(_PROXY_REASONS)
        )


def event_actor(actor: Actor) -> tuple[Any, str]:
    """The event's `by` and `by_label`: the staff member, or nobody and the system / a resident by name."""
    user = actor.user
    if user is not None and getattr(user, "is_authenticated", False):
        return user, (getattr(user, "display_name", "") or user.get_username())
    return None, actor.username or str(actor.kind)


def refusal(action: Action, card: Card) -> str | None:
    """Why `action` cannot be applied to `card` now, in the user's language; None when it can."""
    if allowed(action, card.state, card.express):
        return None
    if action.express is True and not card.express:
        return _("「%(action)s」は特急発行のカードにだけ行えます。") % {"action": action.label}
    if action.express is False and card.express:
        return _("特急発行のカード（%(number)s）には「%(action)s」を行えません。") % {
            "number": card.notice_number,
            "action": action.label,
        }
    return _("カード %(number)s は「%(state)s」のため「%(action)s」を行えません。") % {
        "number": card.notice_number,
        "state": CardState(card.state).label,
        "action": action.label,
    }


def _validate(action: Action, change: TransitionInput) -> None:
    if action.needs_reason and not change.reason.strip():
        raise CardError(_("理由を入力してください。"))
    if action.name == "dispose" and change.disposal_method not in DisposalMethod.values:
        raise CardError(_("廃棄の方法を選んでください。"))
    if action.name == "cancel" and change.cancel_reason not in CancelReason.values:
        raise CardError(_("取消の理由を選んでください。"))
    if action.name == "cancel" and change.cancel_reason == CancelReason.OTHER and not change.reason.strip():
        raise CardError(_("取消の理由を入力してください。"))


def _apply(card: Card, action: Action, change: TransitionInput, *, actor: Actor, now: datetime) -> CardEvent:
    fields, event = _prepare(card, action, change, actor=actor, now=now)
    card.save(update_fields=fields)
    event.save()
    return event


def _prepare(
    card: Card, action: Action, change: TransitionInput, *, actor: Actor, now: datetime
) -> tuple[list[str], CardEvent]:
    """Change `card` in memory; return the fields to save and its event, unsaved (the bulk path writes a whole
    selection in a few statements instead of two per card)."""
    by, by_label = event_actor(actor)
    before = card.state
    card.updated_at = now  # set here: a queryset update does not apply auto_now
    fields = ["updated_at"]
    if action.to is not None:
        card.state = action.to
        card.state_changed_at = now
        fields += ["state", "state_changed_at"]
    if action.name in {"mail_notice", "resend", "remind"}:
        card.notice_mailed_at = now
        fields.append("notice_mailed_at")
    if action.name == "dispose":
        card.disposal_method = change.disposal_method
        fields.append("disposal_method")
    if action.name == "cancel":
        card.cancel_reason = change.cancel_reason
        fields.append("cancel_reason")
    if action.name == "not_issue" and card.state == CardState.BOOKED:
        # The visit happened without a hand-over: the card waits for a new booking, like after a no-show.
        card.state = CardState.NOTICE_MAILED
        card.state_changed_at = now
        fields += ["state", "state_changed_at"]
    if action.name in {"cancel_booking", "no_show", "not_issue"}:
        card.reservation = None
        fields.append("reservation")
    if action.name == "book":
        card.reservation_id = change.data.get("reservation_id")
        fields.append("reservation")
    data = dict(change.data)
    if change.disposal_method:
        data["disposal_method"] = change.disposal_method
    if change.cancel_reason:
        data["cancel_reason"] = change.cancel_reason
    return fields, CardEvent(
        card=card,
        kind=action.event,
        from_state=before,
        to_state=card.state,
        at=now,
        by=by,
        by_label=by_label[:150],
        reason=change.reason.strip()[:300],
        data=data,
    )


def card_transition(
    *,
    card_id: int,
    change: TransitionInput,
    actor: Actor,
    now: datetime | None = None,
    audit: bool = True,
) -> CardEvent:
    """Apply one action to one card under a row lock, or raise CardError saying why not (nothing written)."""
    action = ACTIONS.get(change.action)
    if action is None:
        raise CardError(_("この操作はありません。"))
    _validate(action, change)
    now = now or timezone.now()
    with transaction.atomic():
        card = Card.objects.select_for_update().filter(pk=card_id).first()
        if card is None:
            raise CardError(_("カードが見つかりません。"))
        problem = refusal(action, card)
        if problem:
            raise CardError(problem)
        event = _apply(card, action, change, actor=actor, now=now)
        if audit:
            audit_record(
                action=f"card.{action.name}",
                actor=actor,
                target=f"Card:{card.pk}",
                summary=f"{card.notice_number}: {action.label}",
                before={"state": event.from_state},
                after={"state": event.to_state, **({"reason": event.reason} if event.reason else {})},
            )
    return event


@dataclass
class BulkResult:
    done: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (notice number, why)


def cards_transition(
    *,
    card_ids: Iterable[int],
    change: TransitionInput,
    actor: Actor,
    now: datetime | None = None,
) -> BulkResult:
    """Apply one action to a selection in one transaction: cards it does not fit are skipped and listed, the
    rest all change (or none, on error). One audit event names the action and counts."""
    ensure_permission(actor, MANAGE_CARDS)
    action = ACTIONS.get(change.action)
    if action is None or not action.bulk:
        raise CardError(_("この操作は一覧からは行えません。"))
    _validate(action, change)
    now = now or timezone.now()
    result = BulkResult()
    with transaction.atomic():
        cards = Card.objects.select_for_update().filter(pk__in=list(card_ids)).order_by("pk")
        numbers: list[str] = []
        changed: list[Card] = []
        events: list[CardEvent] = []
        fields: list[str] = []
        for card in cards:
            problem = refusal(action, card)
            if problem:
                result.skipped.append((card.notice_number, problem))
                continue
            fields, event = _prepare(card, action, change, actor=actor, now=now)
            changed.append(card)
            events.append(event)
            result.done += 1
            numbers.append(card.notice_number)
        if changed:
            # What an action sets depends only on the action, the change and `now`, the same for every card of
            # this call: one UPDATE writes them all.
            values = {name: getattr(changed[0], name) for name in fields}
            Card.objects.filter(pk__in=[card.pk for card in changed]).update(**values)
            CardEvent.objects.bulk_create(events, batch_size=1000)
        if result.done:
            audit_record(
                action=f"card.bulk_{action.name}",
                actor=actor,
                target="Card:bulk",
                summary=_("%(action)s（%(done)d件、対象外 %(skipped)d件）")
                % {"action": action.label, "done": result.done, "skipped": len(result.skipped)},
                after={"notice_numbers": numbers[:1000], "count": result.done},
            )
    return result
