"""The work lists (未受取, 保管期限, 返戻, 無断キャンセル, 今日の受取): one registry entry per list, giving its columns, query,
cells and the rule shown above it. The views (views.py) serve every list through the same page, export and bulk view."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.booking.calendar.hours import TOKYO
from apps.issuance.models import Card, CardEvent, CardState
from apps.issuance.reports import selectors as sel
from apps.issuance.reports.presenters import local_time
from apps.security.roles import ISSUE_CARDS, MANAGE_CARDS

# --- Work lists ----------------------------------------------------------------------------------------------------

NUMBER_HEADER = gettext_lazy("交付通知書の番号")
PERSON_HEADERS = [gettext_lazy("氏名"), gettext_lazy("ふりがな"), gettext_lazy("生年月日")]
CARD_HEADERS = [
    NUMBER_HEADER,
    *PERSON_HEADERS,
    gettext_lazy("郵便番号"),
    gettext_lazy("住所"),
    gettext_lazy("納品回"),
    gettext_lazy("納品日"),
    gettext_lazy("申請の種類"),
    gettext_lazy("状態"),
]


def person_cells(card: Card) -> list[Any]:
    """The cells under PERSON_HEADERS."""
    return [card.name, card.kana, card.birth_date.isoformat()]


def card_cells(card: Card) -> list[Any]:
    return [
        card.notice_number,
        *person_cells(card),
        card.postal_code,
        card.address,
        card.delivery_batch,
        card.delivery_date.isoformat(),
        card.application_kind,
        CardState(card.state).label,
    ]


@dataclass(frozen=True)
class ListContext:
    today: date
    weeks: int
    months: int
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class WorkList:
    key: str
    title: Promise
    filename: Promise
    permission: str
    headers: Sequence[Promise | str]
    query: Callable[[ListContext], QuerySet[Any]]
    cells: Callable[[Any, ListContext], list[Any]]
    rule: Callable[[ListContext], str]
    bulk_action: str | None = (
        None  # the action the list offers for all its cards (its URL: lists/<key>/<action>/)
    )
    period_filter: bool = False  # the list is read for a period (NoShowFilterForm: from, to)


def _unclaimed_cells(card: Any, ctx: ListContext) -> list[Any]:
    waited = (ctx.today - timezone.localtime(card.waiting_since, TOKYO).date()).days // 7
    return [*card_cells(card), local_time(card.waiting_since, "%Y-%m-%d"), waited]


def _retention_cells(card: Card, ctx: ListContext) -> list[Any]:
    return [*card_cells(card), sel.retention_end(card.delivery_date, ctx.months).isoformat()]


def _returned_cells(card: Card, ctx: ListContext) -> list[Any]:
    return [*card_cells(card), local_time(card.state_changed_at, "%Y-%m-%d")]


_NO_SHOW_HEADERS = [
    NUMBER_HEADER,
    gettext_lazy("不来庁の日時"),
    *PERSON_HEADERS,
    gettext_lazy("現在の状態"),
    gettext_lazy("予約番号"),
]


def _no_show_cells(event: CardEvent, ctx: ListContext) -> list[Any]:
    card = event.card
    return [
        card.notice_number,
        local_time(event.at),
        *person_cells(card),
        CardState(card.state).label,
        event.data.get("reservation_code", "") if isinstance(event.data, dict) else "",
    ]


_TODAY_HEADERS = [
    NUMBER_HEADER,
    gettext_lazy("時刻"),
    gettext_lazy("予約番号"),
    gettext_lazy("窓口"),
    *PERSON_HEADERS,
]


def _today_cells(card: Card, ctx: ListContext) -> list[Any]:
    reservation = card.reservation
    assert reservation is not None  # the query joins through it
    slot = reservation.slot
    return [
        card.notice_number,
        local_time(slot.start, "%H:%M"),
        reservation.code,
        slot.counter_group.name,
        *person_cells(card),
    ]


WORK_LISTS: dict[str, WorkList] = {
    item.key: item
    for item in [
        WorkList(
            key="unclaimed",
            title=gettext_lazy("未受取（再通知の候補）"),
            filename=gettext_lazy("未受取一覧"),
            permission=MANAGE_CARDS,
            headers=[*CARD_HEADERS, gettext_lazy("通知書発送日"), gettext_lazy("経過週数")],
            query=lambda ctx: sel.unclaimed_cards(today=ctx.today, weeks=ctx.weeks),
            cells=_unclaimed_cells,
            rule=lambda ctx: (
                _(
                    "通知書を発送済で、最後の発送（再送・再通知を含む）が%(day)s以前（%(weeks)d週以上前）のカードです。"
                )
                % {
                    "day": sel.unclaimed_cutoff(today=ctx.today, weeks=ctx.weeks).isoformat(),
                    "weeks": ctx.weeks,
                }
            ),
            bulk_action="remind",
        ),
        WorkList(
            key="retention",
            title=gettext_lazy("保管期限の到来（廃棄の候補）"),
            filename=gettext_lazy("保管期限到来一覧"),
            permission=MANAGE_CARDS,
            headers=[*CARD_HEADERS, gettext_lazy("保管期限")],
            query=lambda ctx: sel.retention_cards(today=ctx.today, months=ctx.months),
            cells=_retention_cells,
            rule=lambda ctx: (
                _(
                    "まだ保管中（納品済・交付前設定済・通知書発送済・返戻）で、納品日から%(months)dか月が過ぎ"
                    "保管期限（納品日＋%(months)dか月）が今日以前のカードです。"
                )
                % {"months": ctx.months}
            ),
            bulk_action="expire",
        ),
        WorkList(
            key="returned",
            title=gettext_lazy("返戻"),
            filename=gettext_lazy("返戻一覧"),
            permission=MANAGE_CARDS,
            headers=[*CARD_HEADERS, gettext_lazy("返戻日")],
            query=lambda ctx: sel.returned_mail_cards(),
            cells=_returned_cells,
            rule=lambda ctx: _("通知書が返戻され、再送していないカードです。"),
        ),
        WorkList(
            key="no-shows",
            title=gettext_lazy("不来庁"),
            filename=gettext_lazy("不来庁一覧"),
            permission=MANAGE_CARDS,
            headers=_NO_SHOW_HEADERS,
            query=lambda ctx: sel.no_show_events(
                date_from=ctx.date_from or ctx.today, date_to=ctx.date_to or ctx.today
            ),
            cells=_no_show_cells,
            period_filter=True,
            rule=lambda ctx: (
                _("%(start)s から %(end)s までに不来庁が記録されたカードです（新しい順）。")
                % {"start": ctx.date_from, "end": ctx.date_to}
            ),
        ),
        WorkList(
            key="today",
            title=gettext_lazy("本日の受取予定"),
            filename=gettext_lazy("本日の受取予定"),
            permission=ISSUE_CARDS,
            headers=_TODAY_HEADERS,
            query=lambda ctx: sel.expected_pickups(day=ctx.today),
            cells=_today_cells,
            rule=lambda ctx: (
                _("予約済のカードのうち、予約の時間帯が今日（%(day)s）のものです（時刻順）。")
                % {"day": ctx.today.isoformat()}
            ),
        ),
    ]
}
