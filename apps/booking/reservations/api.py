"""REST API: reservations for a city's own systems (a call centre books for a caller), and the frames of a day.

Built on the staff booking's services: `reservation_book_by_staff` (capacity under the slot's row lock, staff seats
included, the notice check and the `reservation_booked` hooks issuance plugs into), `reservation_move_by_staff` and
`reservation_cancel`, with the API key as the actor (its scope `reservations:write` stands for counter work, see
`Actor.has_perm`), so each write is audited with the key as the one who acted. The POSTs take an
`Idempotency-Key` (apps.security.api_idempotency). Reads of reservations show persons' names: each is recorded as
a personal-data view, as the staff pages record theirs.

A booking code belongs to one city's schema: a key of another city finds nothing (404), whatever the code.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.booking.calendar.services import settings_ensure
from apps.booking.errors import BookingError, NoticeRefusedError, SlotFullError
from apps.booking.models import Purpose, Reservation, Slot
from apps.booking.reservations.selectors import (
    purpose_slots,
    reservation_by_code,
    reservations_filtered,
    reservations_shown,
)
from apps.booking.reservations.services import PersonInput
from apps.booking.resident.forms import NOTICE_SHAPE_MESSAGE
from apps.booking.resident.selectors import purposes_active
from apps.booking.staff.services import (
    reservation_book_by_staff,
    reservation_mark,
    reservation_move_by_staff,
)
from apps.security.api_auth import ApiView, ProblemSerializer, problem_answer, problem_responses
from apps.security.api_idempotency import (
    IDEMPOTENCY_KEY_OPTIONAL,
    IDEMPOTENCY_KEY_PARAMETER,
    idempotent,
)
from apps.security.api_pagination import CursorPagination, page_serializer
from apps.security.models import ApiScope
from apps.security.request_actor import request_actor
from base.japanese import notice_number_normalise

Status = Reservation.Status
Channel = Reservation.Channel
MAX_ID = 2**63 - 1  # a bigint: larger ids are a validation error, never a database error

# --- serializers ----------------------------------------------------------------------------------------------------


class SlotSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text=_("枠のID（予約の slot に指定）"))
    start = serializers.DateTimeField(help_text=_("開始日時"))
    end = serializers.DateTimeField(help_text=_("終了日時"))
    counter_group = serializers.IntegerField(source="counter_group_id", help_text=_("窓口のID"))


class SlotChoiceSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="slot.pk", help_text=_("枠のID（予約の slot に指定）"))
    start = serializers.DateTimeField(source="slot.start", help_text=_("開始日時"))
    end = serializers.DateTimeField(source="slot.end", help_text=_("終了日時"))
    persons_free = serializers.IntegerField(help_text=_("この用件でまだ予約できる人数（0 は満席）"))


class PersonSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, help_text=_("氏名"))
    kana = serializers.CharField(max_length=100, required=False, allow_blank=True, help_text=_("ふりがな"))
    birth_date = serializers.DateField(help_text=_("生年月日（YYYY-MM-DD）"))
    notice_number = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        help_text=_("交付通知書の番号（受け取りの用件で必要。例: A1B-123456）"),
    )

    def validate_name(self, value: str) -> str:
        name = value.strip()
        if not name:
            raise serializers.ValidationError(_("氏名を入力してください。"))
        return name

    def validate_notice_number(self, value: str) -> str:
        if not value:
            return ""
        normalised = notice_number_normalise(value)
        if normalised is None:
            raise serializers.ValidationError(NOTICE_SHAPE_MESSAGE)
        return normalised  # stored as A1B-123456, as residents' and staff bookings are


class ReservationSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text=_("予約番号（住民に伝える番号）"))
    status = serializers.ChoiceField(choices=Status.choices, help_text=_("状態"))
    channel = serializers.ChoiceField(choices=Channel.choices, help_text=_("受付方法"))
    purpose = serializers.CharField(source="purpose.code", help_text=_("用件のコード"))
    slot = SlotSerializer(help_text=_("予約した枠"))
    persons = PersonSerializer(many=True, source="persons.all", help_text=_("来庁する方"))
    email = serializers.EmailField(help_text=_("メールアドレス"))
    phone = serializers.CharField(help_text=_("電話番号"))
    created_at = serializers.DateTimeField(help_text=_("受付日時"))
    cancelled_at = serializers.DateTimeField(allow_null=True, help_text=_("取消日時"))


class ReservationCreateSerializer(serializers.Serializer[Any]):
    slot = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text=_("枠のID（GET /api/v1/slots/ の id）")
    )
    purpose = serializers.SlugField(max_length=40, help_text=_("用件のコード"))
    persons = PersonSerializer(many=True, help_text=_("来庁する方（1人目は必須）"))
    email = serializers.EmailField(
        required=False, allow_blank=True, default="", help_text=_("メールアドレス")
    )
    phone = serializers.CharField(
        max_length=20, required=False, allow_blank=True, default="", help_text=_("電話番号")
    )
    channel = serializers.ChoiceField(
        choices=[(Channel.PHONE, _("電話予約")), (Channel.WALK_IN, _("当日受付"))],
        default=Channel.PHONE,
        help_text=_("受付方法（既定: phone）"),
    )

    def validate_purpose(self, value: str) -> Purpose:
        purpose = next((p for p in purposes_active() if p.code == value), None)
        if purpose is None:
            raise serializers.ValidationError(_("用件「%(code)s」はありません。") % {"code": value})
        return purpose

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        persons, purpose = attrs["persons"], attrs["purpose"]
        max_persons = settings_ensure().max_persons
        if not 1 <= len(persons) <= max_persons:
            raise serializers.ValidationError(
                {"persons": [_("一度に予約できるのは1人から%(max)d人までです。") % {"max": max_persons}]}
            )
        if purpose.requires_notice_number:
            missing = {
                f"persons.{index}.notice_number": [_("交付通知書の番号を入力してください。")]
                for index, person in enumerate(persons)
                if not person.get("notice_number")
            }
            if missing:
                raise serializers.ValidationError(missing)
        slot = Slot.objects.filter(pk=attrs["slot"]).first()
        if slot is None:
            raise serializers.ValidationError({"slot": [_("この枠はありません。")]})
        if slot.start <= timezone.now():
            raise serializers.ValidationError({"slot": [_("この時間はすでに始まっています。")]})
        return attrs

    def person_inputs(self) -> list[PersonInput]:
        return [
            PersonInput(
                name=person["name"],
                kana=person.get("kana", ""),
                birth_date=person["birth_date"],
                notice_number=person.get("notice_number", ""),
            )
            for person in self.validated_data["persons"]
        ]


class MoveSerializer(serializers.Serializer[Any]):
    slot = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text=_("移す先の枠のID（同じ窓口の枠）")
    )


class SlotsQuery(serializers.Serializer[Any]):
    purpose = serializers.SlugField(max_length=40)
    date = serializers.DateField()


class ListQuery(serializers.Serializer[Any]):
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    purpose = serializers.SlugField(max_length=40, required=False, default="")
    status = serializers.ChoiceField(choices=Status.choices, required=False, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        first, last = attrs.get("date_from"), attrs.get("date_to")
        if first and last and last < first:
            raise serializers.ValidationError(
                {"date_to": [_("date_to は date_from 以降の日付にしてください。")]}
            )
        return attrs


# --- examples for the schema ----------------------------------------------------------------------------------------

_CREATE_EXAMPLE = OpenApiExample(
    "pickup",
    summary=_("受け取りの予約（電話）"),
    request_only=True,
    value={
        "slot": 4211,
        "purpose": "pickup",
        "persons": [
            {
                "name": "上尾 花子",
                "kana": "あげお はなこ",
                "birth_date": "1980-04-01",
                "notice_number": "K7R-204113",
            }
        ],
        "phone": "090-1234-5678",
        "email": "hanako@example.jp",
    },
)
_RESERVATION_EXAMPLE = OpenApiExample(
    "reservation",
    summary=_("予約"),
    response_only=True,
    value={
        "code": "Q7MZK4TP",
        "status": "booked",
        "channel": "phone",
        "purpose": "pickup",
        "slot": {
            "id": 4211,
            "start": "2026-12-14T10:00:00+09:00",
            "end": "2026-12-14T10:15:00+09:00",
            "counter_group": 1,
        },
        "persons": [
            {
                "name": "上尾 花子",
                "kana": "あげお はなこ",
                "birth_date": "1980-04-01",
                "notice_number": "K7R-204113",
            }
        ],
        "email": "hanako@example.jp",
        "phone": "090-1234-5678",
        "created_at": "2026-12-07T09:12:31+09:00",
        "cancelled_at": None,
    },
)
_FULL_EXAMPLE = OpenApiExample(
    "slot_full",
    summary=_("満席"),
    response_only=True,
    status_codes=["409"],
    value={
        "type": "urn:madoguchi:problem:slot_full",
        "title": "この時間は満席です",
        "status": 409,
        "detail": "この時間は満席です。",
        "code": "slot_full",
        "instance": "/api/v1/reservations/",
    },
)


def _write_responses(success: int, *extra: int) -> dict[int, Any]:
    responses: dict[int, Any] = {
        success: ReservationSerializer,
        **problem_responses(400, *extra),
        409: OpenApiResponse(
            response=ProblemSerializer,
            description=_(
                "満席・受付停止（slot_full）、または同じ Idempotency-Key の要求を処理中（idempotency_in_progress）"
            ),
        ),
        422: OpenApiResponse(
            response=ProblemSerializer,
            description=_(
                "予約の条件に合わない（booking_refused、notice_refused）、または Idempotency-Key が別の内容に"
                "使われている（idempotency_key_reused）"
            ),
        ),
    }
    return responses


# --- helpers --------------------------------------------------------------------------------------------------------


def _refusal(request: Request, error: BookingError) -> Response:
    """A booking service's refusal as a problem: its message is the detail, in the request's language."""
    if isinstance(error, SlotFullError):
        code = "slot_full"
    elif isinstance(error, NoticeRefusedError):
        code = "notice_refused"
    else:  # outside the booking window, a person's second booking, any other rule of the counter
        code = "booking_refused"
    return problem_answer(request, code, detail=str(error))


def _found(code: str) -> Reservation:
    reservation = reservation_by_code(code)
    if reservation is None:
        raise exceptions.NotFound(_("予約番号「%(code)s」の予約はありません。") % {"code": code[:20]})
    return reservation


def _answer(request: Request, reservation: Reservation, *, status: int = 200) -> Response:
    fresh = reservation_by_code(reservation.code)  # the persons and slot as stored, in one read
    headers = {}
    if status == 201:
        headers["Location"] = request.build_absolute_uri(
            reverse("api_reservation", kwargs={"code": reservation.code})
        )
    return Response(ReservationSerializer(fresh).data, status=status, headers=headers)


_PAGINATION = CursorPagination(orderings={"start": "slot__start", "created": "created_at"}, default="start")
CODE_PARAMETER = OpenApiParameter(
    "code", OpenApiTypes.STR, location=OpenApiParameter.PATH, description=_("予約番号")
)


# --- views ----------------------------------------------------------------------------------------------------------


class SlotList(ApiView):
    required_scopes = (ApiScope.SLOTS_READ,)

    @extend_schema(
        operation_id="slots_list",
        summary=_("1日の枠"),
        description=_(
            "用件の窓口の、その日のまだ始まっていない枠を時刻順に返します（満席の枠は persons_free が 0）。"
            "予約の slot にはこの id を指定します。必要な権限: slots:read"
        ),
        parameters=[
            OpenApiParameter("purpose", OpenApiTypes.STR, required=True, description=_("用件のコード")),
            OpenApiParameter("date", OpenApiTypes.DATE, required=True, description=_("日付（YYYY-MM-DD）")),
        ],
        responses={200: SlotChoiceSerializer(many=True), **problem_responses(400, 404)},
        tags=["slots"],
    )
    def get(self, request: Request) -> Response:
        query = SlotsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        code = query.validated_data["purpose"]
        purpose = next((p for p in purposes_active() if p.code == code), None)
        if purpose is None:
            raise exceptions.NotFound(_("用件「%(code)s」はありません。") % {"code": code})
        slots = purpose_slots(purpose=purpose, day=query.validated_data["date"], now=timezone.now())
        return Response(SlotChoiceSerializer(slots, many=True).data)


class ReservationCollection(ApiView):
    """GET: the list (reservations:read); POST: a booking (reservations:write)."""

    scopes_by_method = {"POST": (ApiScope.RESERVATIONS_WRITE,)}

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self.required_scopes = self.scopes_by_method.get(request.method or "", (ApiScope.RESERVATIONS_READ,))
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="reservations_list",
        summary=_("予約の一覧"),
        description=_(
            "来庁日（date_from〜date_to、両端を含む）、用件、状態で絞り込んだ予約を、カーソル方式のページで返します。"
            "並び順は start（来庁日時）または created（受付日時）。個人情報の閲覧として監査ログに記録します。"
            "必要な権限: reservations:read"
        ),
        parameters=[
            OpenApiParameter("date_from", OpenApiTypes.DATE, description=_("この日以降の来庁（YYYY-MM-DD）")),
            OpenApiParameter("date_to", OpenApiTypes.DATE, description=_("この日までの来庁（YYYY-MM-DD）")),
            OpenApiParameter("purpose", OpenApiTypes.STR, description=_("用件のコード")),
            OpenApiParameter(
                "status", OpenApiTypes.STR, enum=list(Status.values), description=_("予約の状態")
            ),
            *_PAGINATION.parameters(),
        ],
        responses={
            200: page_serializer(ReservationSerializer, "ReservationPage"),
            **problem_responses(400),
        },
        tags=["reservations"],
    )
    def get(self, request: Request) -> Response:
        query = ListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        page = _PAGINATION.page(
            reservations_filtered(
                date_from=data.get("date_from"),
                date_to=data.get("date_to"),
                purpose_code=data["purpose"],
                status=data["status"],
            ),
            request,
        )
        reservations_shown(
            target="api:reservations",
            summary=str(_("APIで予約の一覧（%(count)d件）") % {"count": len(page.items)}),
            actor=request_actor(request._request),
        )
        return Response(page.body(ReservationSerializer(page.items, many=True).data))

    @extend_schema(
        operation_id="reservations_create",
        summary=_("予約する"),
        description=_(
            "枠と用件と来庁する方を指定して予約します（電話予約と同じ扱い: 職員用の席も使えます。"
            "受け取りの用件では交付通知書の番号と生年月日を確認します）。Idempotency-Key が必要です。"
            "201 と予約、Location ヘッダーを返します。必要な権限: reservations:write"
        ),
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        request=ReservationCreateSerializer,
        responses=_write_responses(201),
        examples=[_CREATE_EXAMPLE, _RESERVATION_EXAMPLE, _FULL_EXAMPLE],
        tags=["reservations"],
    )
    @idempotent()
    def post(self, request: Request) -> Response:
        body = ReservationCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            reservation = reservation_book_by_staff(
                slot_id=data["slot"],
                purpose_id=data["purpose"].pk,
                persons=body.person_inputs(),
                phone=data["phone"],
                email=data["email"],
                channel=data["channel"],
                actor=request_actor(request._request),
                now=timezone.now(),
            )
        except BookingError as error:
            return _refusal(request, error)
        return _answer(request, reservation, status=201)


class ReservationDetail(ApiView):
    required_scopes = (ApiScope.RESERVATIONS_READ,)

    @extend_schema(
        operation_id="reservations_retrieve",
        summary=_("予約番号で探す"),
        description=_(
            "予約番号（住民に伝えた番号。全角・小文字・ハイフンは読み替えます）の予約を返します。"
            "個人情報の閲覧として監査ログに記録します。必要な権限: reservations:read"
        ),
        parameters=[CODE_PARAMETER],
        responses={200: ReservationSerializer, **problem_responses(404)},
        examples=[_RESERVATION_EXAMPLE],
        tags=["reservations"],
    )
    def get(self, request: Request, code: str) -> Response:
        reservation = _found(code)
        reservations_shown(
            target=f"Reservation:{reservation.pk}",
            summary=str(_("APIで予約を表示")),
            actor=request_actor(request._request),
        )
        return Response(ReservationSerializer(reservation).data)


class ReservationMove(ApiView):
    required_scopes = (ApiScope.RESERVATIONS_WRITE,)

    @extend_schema(
        operation_id="reservations_move",
        summary=_("予約の時間を変える"),
        description=_(
            "予約済みの予約を同じ窓口の別の枠に移します（窓口の「予約の移動」と同じ）。"
            "Idempotency-Key は省略できます。必要な権限: reservations:write"
        ),
        parameters=[CODE_PARAMETER, IDEMPOTENCY_KEY_OPTIONAL],
        request=MoveSerializer,
        responses=_write_responses(200, 404),
        examples=[
            OpenApiExample("move", summary=_("別の枠へ"), request_only=True, value={"slot": 4212}),
            _RESERVATION_EXAMPLE,
            _FULL_EXAMPLE,
        ],
        tags=["reservations"],
    )
    @idempotent(required=False)
    def post(self, request: Request, code: str) -> Response:
        reservation = _found(code)
        body = MoveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if not Slot.objects.filter(pk=body.validated_data["slot"], start__gt=timezone.now()).exists():
            raise exceptions.ValidationError({"slot": [_("移す先の枠がないか、すでに始まっています。")]})
        try:
            moved = reservation_move_by_staff(
                reservation_id=reservation.pk,
                slot_id=body.validated_data["slot"],
                actor=request_actor(request._request),
            )
        except BookingError as error:
            return _refusal(request, error)
        return _answer(request, moved)


class ReservationCancel(ApiView):
    required_scopes = (ApiScope.RESERVATIONS_WRITE,)

    @extend_schema(
        operation_id="reservations_cancel",
        summary=_("予約を取り消す"),
        description=_(
            "予約を取り消し、席を戻します（窓口の取消と同じ。メールアドレスがあれば取消メールを送ります）。"
            "取消済みの予約はそのまま返します。完了・不来庁の予約は取り消せません（422 booking_refused）。"
            "Idempotency-Key は省略できます。必要な権限: reservations:write"
        ),
        parameters=[CODE_PARAMETER, IDEMPOTENCY_KEY_OPTIONAL],
        request=None,
        responses=_write_responses(200, 404),
        examples=[_RESERVATION_EXAMPLE],
        tags=["reservations"],
    )
    @idempotent(required=False)
    def post(self, request: Request, code: str) -> Response:
        reservation = _found(code)
        if reservation.status == Status.CANCELLED:
            return _answer(request, reservation)  # a repeated cancel changes nothing
        try:
            cancelled = reservation_mark(
                reservation_id=reservation.pk,
                status=Status.CANCELLED,
                actor=request_actor(request._request),
                now=timezone.now(),
            )
        except BookingError as error:
            return _refusal(request, error)
        return _answer(request, cancelled)
