"""REST API of the card list (docs/api.md, "Cards"): the list with the staff list's filters, one card by its notice
number with its history, and a state change of one card, on the selectors and the service the staff pages use.

- `GET /api/v1/cards/` (cards:read): `cards_filtered` with a `CardFilter` made from the query, cursor-paginated on
  (delivery date | notice number | state changed, id). The fields are the staff list's columns. The text search
  (`q`, a kana or a number) is not offered: the staff pages keep such text out of addresses (docs/security.md)
  and a card is looked up by its number at its own path. Recorded as a personal-data view, as the list page is.
- `GET /api/v1/cards/{notice_number}/` (cards:read): `card_by_notice_number`, then `card_history`, which records
  the personal-data view with the key as actor, as the card page does.
- `POST /api/v1/cards/{notice_number}/transitions/` (cards:write): the card page's `TransitionForm` and
  `card_transition`. The actions other pages own (booking, counter, printing: `views.ELSEWHERE`) are refused as
  the card page refuses them. A refusal of the card's state is `409 card_transition_refused` with the service's
  Japanese reason (the card page answers 409 too): the request was well formed, the card's state forbids it.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.issuance.cards import selectors as selectors_cards
from apps.issuance.cards.forms import TransitionForm
from apps.issuance.cards.presenters import history_row
from apps.issuance.cards.selectors import EXPRESS_NO, EXPRESS_YES, VIEWED, CardFilter
from apps.issuance.cards.services import CardError, card_transition
from apps.issuance.cards.views import ELSEWHERE
from apps.issuance.models import CancelReason, Card, CardEvent, CardState, DisposalMethod
from apps.issuance.states import ACTIONS, actions_for
from apps.security.api_auth import ApiView, ProblemSerializer, problem_answer, problem_responses
from apps.security.api_pagination import CursorPagination, page_serializer
from apps.security.audit import audit_record
from apps.security.models import ApiScope
from apps.security.request_actor import request_actor

API_ACTIONS = [action for name, action in ACTIONS.items() if name not in ELSEWHERE]
TRANSITION_REFUSED = "card_transition_refused"

pagination = CursorPagination(
    orderings={
        "delivery_date": "delivery_date",
        "notice_number": "notice_number",
        "state_changed_at": "state_changed_at",
    },
    default="delivery_date",
)


# --- serializers ---------------------------------------------------------------------------------------------------


class CardSerializer(serializers.Serializer[Any]):
    """A card as the staff list shows it (never a 個人番号: none is stored)."""

    notice_number = serializers.CharField(help_text=_("交付通知書の番号（例: K7R-204113）"))
    name = serializers.CharField(help_text=_("氏名"))
    kana = serializers.CharField(help_text=_("ふりがな"))
    birth_date = serializers.DateField(help_text=_("生年月日"))
    state = serializers.ChoiceField(choices=CardState.choices, help_text=_("状態のコード"))
    state_label = serializers.CharField(source="get_state_display", help_text=_("状態の名称"))
    state_changed_at = serializers.DateTimeField(help_text=_("状態が変わった日時"))
    express = serializers.BooleanField(help_text=_("特急発行か"))
    delivery_batch = serializers.CharField(help_text=_("納品回"))
    delivery_date = serializers.DateField(help_text=_("納品日"))


class HistorySerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField(help_text=_("日時"))
    kind = serializers.ChoiceField(
        choices=["event", "print", "check"],
        help_text=_("event: 状態の変更などの出来事、print: 通知書の印刷、check: 窓口での確認"),
    )
    event = serializers.CharField(help_text=_("出来事のコード（kind が event のとき。ほかは空）"))
    title = serializers.CharField(help_text=_("出来事の名称"))
    from_state = serializers.CharField(help_text=_("変更前の状態のコード（状態が変わったときだけ）"))
    to_state = serializers.CharField(help_text=_("変更後の状態のコード（状態が変わったときだけ）"))
    by = serializers.CharField(help_text=_("行った人（職員名、システム、住民、APIキー）"))
    reason = serializers.CharField(help_text=_("理由・メモ"))


class ActionSerializer(serializers.Serializer[Any]):
    action = serializers.CharField(help_text=_("操作のコード（transitions の action に指定）"))
    needs_reason = serializers.BooleanField(help_text=_("理由の入力が必要か"))

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["label"] = serializers.CharField(help_text=_("操作の名称"))  # Field.label: added here
        return fields


class BookingSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text=_("予約番号"))
    starts_at = serializers.DateTimeField(help_text=_("予約の枠の開始日時"))


class CardDetailSerializer(CardSerializer):
    booking = BookingSerializer(allow_null=True, help_text=_("受け取りの予約（予約済のとき）"))
    actions = ActionSerializer(many=True, help_text=_("このカードに今APIで行える操作"))
    history = HistorySerializer(many=True, help_text=_("カードの履歴（古い順）"))


class CardQuery(serializers.Serializer[Any]):
    state = serializers.ChoiceField(choices=CardState.choices, required=False)
    delivery_batch = serializers.CharField(max_length=40, required=False)
    delivered_from = serializers.DateField(required=False)
    delivered_to = serializers.DateField(required=False)
    express = serializers.ChoiceField(choices=["true", "false"], required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("delivered_from"), attrs.get("delivered_to")
        if start and end and end < start:
            raise serializers.ValidationError(
                {"delivered_to": [_("delivered_to は delivered_from 以降の日付にしてください。")]}
            )
        return attrs

    def filters(self) -> CardFilter:
        data = self.validated_data
        express = {"true": EXPRESS_YES, "false": EXPRESS_NO}.get(data.get("express", ""), "")
        return CardFilter(
            state=data.get("state", ""),
            batch=data.get("delivery_batch", ""),
            delivered_from=data.get("delivered_from"),
            delivered_to=data.get("delivered_to"),
            express=express,
        )


class TransitionRequestSerializer(serializers.Serializer[Any]):
    action = serializers.ChoiceField(
        choices=[(action.name, action.label) for action in API_ACTIONS],
        help_text=_(
            "操作のコード。予約・窓口での交付・通知書の印刷は、それぞれの画面と機能で行います（ここでは使えません）"
        ),
    )
    reason = serializers.CharField(
        max_length=300, required=False, allow_blank=True, help_text=_("理由・メモ（操作によっては必須）")
    )
    disposal_method = serializers.ChoiceField(
        choices=DisposalMethod.choices,
        required=False,
        allow_blank=True,
        help_text=_("廃棄の方法（dispose のとき必須）"),
    )
    cancel_reason = serializers.ChoiceField(
        choices=CancelReason.choices,
        required=False,
        allow_blank=True,
        help_text=_("取消の理由（cancel のとき必須。other のときは reason も必須）"),
    )


class EventSerializer(serializers.Serializer[CardEvent]):
    kind = serializers.CharField(help_text=_("出来事のコード"))
    kind_label = serializers.CharField(source="get_kind_display", help_text=_("出来事の名称"))
    from_state = serializers.CharField(help_text=_("変更前の状態のコード"))
    to_state = serializers.CharField(help_text=_("変更後の状態のコード"))
    at = serializers.DateTimeField(help_text=_("日時"))
    reason = serializers.CharField(help_text=_("理由・メモ"))


class TransitionResultSerializer(serializers.Serializer[Any]):
    notice_number = serializers.CharField(help_text=_("交付通知書の番号"))
    state = serializers.CharField(help_text=_("変更後の状態のコード"))
    state_label = serializers.CharField(help_text=_("変更後の状態の名称"))
    event = EventSerializer(help_text=_("記録された出来事"))


# --- examples ------------------------------------------------------------------------------------------------------

_CARD_EXAMPLE = {
    "notice_number": "K7R-204113",
    "name": "上尾 太郎",
    "kana": "アゲオ タロウ",
    "birth_date": "1980-04-01",
    "state": "notice_mailed",
    "state_label": "通知書発送済",
    "state_changed_at": "2026-11-20T10:15:00+09:00",
    "express": False,
    "delivery_batch": "2026-11 第1回",
    "delivery_date": "2026-11-16",
}
LIST_EXAMPLE = OpenApiExample(
    "cards",
    summary=_("カード一覧の1ページ"),
    value={
        "results": [_CARD_EXAMPLE],
        "next": "http://ageo.localhost:8000/api/v1/cards/?state=notice_mailed&cursor=eyJvIjoi...",
        "next_cursor": "eyJvIjoi...",
    },
    response_only=True,
)
DETAIL_EXAMPLE = OpenApiExample(
    "card",
    summary=_("カードと履歴"),
    value={
        **_CARD_EXAMPLE,
        "booking": None,
        "actions": [
            {"action": "return_mail", "label": "返戻にする", "needs_reason": False},
            {"action": "remind", "label": "再通知を送った", "needs_reason": False},
        ],
        "history": [
            {
                "at": "2026-11-16T09:00:00+09:00",
                "kind": "event",
                "event": "imported",
                "title": "カード一覧から登録",
                "from_state": "",
                "to_state": "",
                "by": "ageo-supervisor",
                "reason": "",
            },
            {
                "at": "2026-11-20T10:15:00+09:00",
                "kind": "event",
                "event": "notice_mailed",
                "title": "交付通知書発送",
                "from_state": "set_up",
                "to_state": "notice_mailed",
                "by": "ageo-supervisor",
                "reason": "",
            },
        ],
    },
    response_only=True,
)
TRANSITION_EXAMPLES = [
    OpenApiExample(
        "return_mail",
        summary=_("返戻にする"),
        value={"action": "return_mail", "reason": "宛所に尋ねあたりません"},
        request_only=True,
    ),
    OpenApiExample(
        "cancel",
        summary=_("取消にする（その他の理由）"),
        value={"action": "cancel", "cancel_reason": "other", "reason": "本人から辞退の申出"},
        request_only=True,
    ),
    OpenApiExample(
        "dispose",
        summary=_("廃棄済にする"),
        value={"action": "dispose", "disposal_method": "returned_to_jlis"},
        request_only=True,
    ),
    OpenApiExample(
        "done",
        summary=_("記録した"),
        value={
            "notice_number": "K7R-204113",
            "state": "returned_mail",
            "state_label": "返戻",
            "event": {
                "kind": "returned_mail",
                "kind_label": "返戻",
                "from_state": "notice_mailed",
                "to_state": "returned_mail",
                "at": "2026-12-01T11:00:00+09:00",
                "reason": "宛所に尋ねあたりません",
            },
        },
        response_only=True,
        status_codes=["200"],
    ),
    OpenApiExample(
        "refused",
        summary=_("今の状態では行えない"),
        value={
            "type": "urn:madoguchi:problem:card_transition_refused",
            "title": "この状態のカードにはこの操作を行えません",
            "status": 409,
            "detail": "カード K7R-204113 は「交付済」のため「返戻にする」を行えません。",
            "code": "card_transition_refused",
            "instance": "/api/v1/cards/K7R-204113/transitions/",
        },
        response_only=True,
        status_codes=["409"],
    ),
]


# --- views ---------------------------------------------------------------------------------------------------------


def _card_or_404(notice_number: str) -> Card:
    card = selectors_cards.card_by_notice_number(notice_number)
    if card is None:
        raise exceptions.NotFound(
            _gettext("交付通知書の番号 %(number)s のカードはありません。") % {"number": notice_number}
        )
    return card


NOTICE_NUMBER = OpenApiParameter(
    "notice_number",
    OpenApiTypes.STR,
    location=OpenApiParameter.PATH,
    description=_("交付通知書の番号（例: K7R-204113。全角・半角、ハイフンの有無を問いません）"),
)


class CardList(ApiView):
    required_scopes = (ApiScope.CARDS_READ,)

    @extend_schema(
        operation_id="cards_list",
        summary=_("カード一覧"),
        description=_(
            "J-LISから納品されたカードを、職員のカード一覧と同じ条件で絞り込んで返します（cursor でページ送り）。"
            "氏名などを表示するため、個人情報の閲覧として監査ログに記録します（APIキーが閲覧者）。"
            "氏名・ふりがなでの検索はありません（番号で1件を引くときは /api/v1/cards/{notice_number}/）。"
            "必要な権限: cards:read"
        ),
        parameters=[
            OpenApiParameter(
                "state", OpenApiTypes.STR, enum=list(CardState.values), description=_("状態のコード")
            ),
            OpenApiParameter("delivery_batch", OpenApiTypes.STR, description=_("納品回（完全一致）")),
            OpenApiParameter(
                "delivered_from", OpenApiTypes.DATE, description=_("納品日（から、YYYY-MM-DD）")
            ),
            OpenApiParameter("delivered_to", OpenApiTypes.DATE, description=_("納品日（まで、YYYY-MM-DD）")),
            OpenApiParameter(
                "express",
                OpenApiTypes.STR,
                enum=["true", "false"],
                description=_("true: 特急発行のみ、false: 特急発行を除く"),
            ),
            *pagination.parameters(),
        ],
        responses={
            200: OpenApiResponse(page_serializer(CardSerializer, "CardPage"), examples=[LIST_EXAMPLE]),
            **problem_responses(400),
        },
        tags=["cards"],
    )
    def get(self, request: Request) -> Response:
        query = CardQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.filters()
        page = pagination.page(selectors_cards.cards_filtered(filters), request)
        audit_record(
            action=VIEWED,
            actor=request_actor(request),
            target="issuance:cards",
            summary=_gettext("カード一覧（API、%(count)d件を表示）") % {"count": len(page.items)},
            after={"filters": filters.query()} if filters.query() else None,
        )
        return Response(page.body(CardSerializer(page.items, many=True).data))


def _detail(card: Card, request: Request) -> dict[str, Any]:
    history = selectors_cards.card_history(card, actor=request_actor(request))
    reservation = card.reservation
    data = dict(CardSerializer(card).data)
    data["booking"] = (
        {"code": reservation.code, "starts_at": reservation.slot.start} if reservation is not None else None
    )
    data["actions"] = [
        {"action": action.name, "label": str(action.label), "needs_reason": action.needs_reason}
        for action in actions_for(card.state, card.express)
        if action.name not in ELSEWHERE
    ]
    rows = []
    for entry in history:
        shown = history_row(entry)
        event = entry.item if entry.kind == "event" else None
        moved = event is not None and bool(event.to_state) and event.from_state != event.to_state
        rows.append(
            {
                "at": entry.at,
                "kind": entry.kind,
                "event": event.kind if event is not None else "",
                "title": shown.title,
                "from_state": event.from_state if moved and event is not None else "",
                "to_state": event.to_state if moved and event is not None else "",
                "by": shown.by,
                "reason": shown.reason,
            }
        )
    data["history"] = HistorySerializer(rows, many=True).data
    if data["booking"] is not None:
        data["booking"] = BookingSerializer(data["booking"]).data
    return data


class CardDetail(ApiView):
    required_scopes = (ApiScope.CARDS_READ,)

    @extend_schema(
        operation_id="cards_retrieve",
        summary=_("カード（交付通知書の番号で）"),
        description=_(
            "交付通知書の番号でカードを1件、履歴・受け取りの予約・今行える操作とともに返します。"
            "カードのページと同じく、個人情報の閲覧として監査ログに記録します（APIキーが閲覧者）。"
            "必要な権限: cards:read"
        ),
        parameters=[NOTICE_NUMBER],
        responses={
            200: OpenApiResponse(CardDetailSerializer, examples=[DETAIL_EXAMPLE]),
            **problem_responses(404),
        },
        tags=["cards"],
    )
    def get(self, request: Request, notice_number: str) -> Response:
        card = _card_or_404(notice_number)
        card = selectors_cards.card_detail(card.pk).get()
        return Response(_detail(card, request))


class CardTransition(ApiView):
    required_scopes = (ApiScope.CARDS_WRITE,)

    @extend_schema(
        operation_id="cards_transition",
        summary=_("カードの状態の変更"),
        description=_(
            "カード1件に操作（返戻にする、取消にする、廃棄済にするなど）を理由とともに記録します。カードのページと同じ"
            "確認をし、同じ履歴と監査ログ（APIキーが操作者）を残します。今の状態では行えない操作は 409"
            "（card_transition_refused、理由は detail）、入力の不足（理由、廃棄の方法、取消の理由）は 400 です。"
            "必要な権限: cards:write"
        ),
        parameters=[NOTICE_NUMBER],
        request=TransitionRequestSerializer,
        responses={
            200: TransitionResultSerializer,
            409: OpenApiResponse(
                ProblemSerializer,
                description=_("今の状態のカードには行えない操作（card_transition_refused）"),
            ),
            **problem_responses(400, 404),
        },
        examples=TRANSITION_EXAMPLES,
        tags=["cards"],
    )
    def post(self, request: Request, notice_number: str) -> Response:
        card = _card_or_404(notice_number)
        asked = TransitionRequestSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        action = ACTIONS[asked.validated_data["action"]]
        form = TransitionForm(
            {name: value for name, value in asked.validated_data.items() if name != "action"}, action=action
        )
        if not form.is_valid():
            raise exceptions.ValidationError(
                {name: [str(message) for message in messages] for name, messages in form.errors.items()}
            )
        try:
            event = card_transition(card_id=card.pk, change=form.change(action), actor=request_actor(request))
        except CardError as refused:
            return problem_answer(request, TRANSITION_REFUSED, detail=str(refused))
        result = {
            "notice_number": card.notice_number,
            "state": event.to_state,
            "state_label": str(CardState(event.to_state).label),
            "event": EventSerializer(event).data,
        }
        return Response(result)
