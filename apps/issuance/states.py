"""The card's life as data: which actions exist, from which states, to which state (docs/issuance.md).

An action either moves the card to a new state (a transition) or records an event and leaves the state alone
(`to` is None: reminder, print). `services.card_transition` is the only writer and consults this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.issuance.models import CardState as S
from apps.issuance.models import EventKind as E


@dataclass(frozen=True)
class Action:
    name: str
    event: E
    sources: frozenset[S]
    to: S | None  # None: an event that keeps the state (not_issue of a booked card: back to notice mailed)
    label: Promise
    needs_reason: bool = False  # a free-text reason is required
    express: bool | None = None  # True: express cards only; False: never express cards; None: any card
    bulk: bool = True  # offered on a selection of cards


_WAITING = frozenset({S.NOTICE_MAILED, S.RETURNED_MAIL})
_ON_HAND = frozenset({S.DELIVERED, S.SET_UP, S.NOTICE_MAILED, S.RETURNED_MAIL})
# States in which a resident may book a pickup with the card's notice number.
BOOKABLE = _WAITING

ACTIONS: dict[str, Action] = {
    a.name: a
    for a in [
        Action("set_up", E.SET_UP, frozenset({S.DELIVERED}), S.SET_UP, _("交付前設定済にする")),
        Action(
            "mail_notice",
            E.NOTICE_MAILED,
            frozenset({S.SET_UP}),
            S.NOTICE_MAILED,
            _("通知書発送済にする"),
            express=False,
        ),
        Action(
            "return_mail", E.RETURNED_MAIL, frozenset({S.NOTICE_MAILED}), S.RETURNED_MAIL, _("返戻にする")
        ),
        Action(
            "resend",
            E.RESENT,
            frozenset({S.RETURNED_MAIL}),
            S.NOTICE_MAILED,
            _("再送した（通知書発送済に戻す）"),
        ),
        Action("remind", E.REMINDER, frozenset({S.NOTICE_MAILED}), None, _("再通知を送った")),
        Action("book", E.BOOKED, BOOKABLE, S.BOOKED, _("予約済にする"), express=False, bulk=False),
        Action(
            "cancel_booking",
            E.BOOKING_CANCELLED,
            frozenset({S.BOOKED}),
            S.NOTICE_MAILED,
            _("予約の取消"),
            bulk=False,
        ),
        Action("no_show", E.NO_SHOW, frozenset({S.BOOKED}), S.NOTICE_MAILED, _("不来庁"), bulk=False),
        Action(
            "issue",
            E.ISSUED,
            frozenset({S.BOOKED, *_WAITING}),
            S.ISSUED,
            _("交付済にする"),
            express=False,
            bulk=False,
        ),
        Action(
            "not_issue",
            E.NOT_ISSUED,
            frozenset({S.BOOKED, *_WAITING}),
            None,
            _("交付しなかった"),
            needs_reason=True,
            bulk=False,
        ),
        Action(
            "expire",
            E.RETENTION_EXPIRED,
            _ON_HAND,
            S.RETENTION_EXPIRED,
            _("保管期限切れにする"),
            express=False,
        ),
        Action(
            "dispose",
            E.DISPOSED,
            frozenset({S.RETENTION_EXPIRED, S.CANCELLED}),
            S.DISPOSED,
            _("廃棄済にする"),
        ),
        Action(
            "cancel", E.CANCELLED, frozenset({*_ON_HAND, S.RETENTION_EXPIRED}), S.CANCELLED, _("取消にする")
        ),
        Action(
            "mail_to_resident",
            E.MAILED,
            frozenset({S.DELIVERED, S.SET_UP}),
            S.MAILED,
            _("本人へ郵送済にする"),
            express=True,
        ),
        Action(
            "print",
            E.PRINTED,
            frozenset(S) - {S.ISSUED, S.DISPOSED, S.CANCELLED, S.MAILED},
            None,
            _("通知書を印刷した"),
            bulk=False,
        ),
    ]
}

# States no action leaves.
FINAL = frozenset({S.ISSUED, S.DISPOSED, S.MAILED})
BULK_ACTIONS = [a for a in ACTIONS.values() if a.bulk]


def allowed(action: Action, state: str, express: bool) -> bool:
    if state not in action.sources:
        return False
    return action.express is None or action.express == express


def actions_for(state: str, express: bool) -> list[Action]:
    return [a for a in ACTIONS.values() if allowed(a, state, express)]
