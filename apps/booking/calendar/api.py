"""REST API: purposes, counter groups and availability by date range (scope `slots:read`), from the selectors the
resident pages use.

Availability comes from `month_availability`, the month page's cache per counter group and month, so the API costs
what a calendar page costs and is forgotten by the same writes. Answers carry an ETag of their body; a client that
sends it back in `If-None-Match` gets 304 without a body.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.booking.calendar.availability import month_availability
from apps.booking.models import CounterGroup
from apps.booking.resident.page_cache import resident_context
from apps.booking.resident.selectors import purposes_active
from apps.security.api_auth import IF_NONE_MATCH, NOT_MODIFIED, ApiView, problem_responses, with_etag
from apps.security.models import ApiScope

MAX_RANGE_DAYS = 93  # about three months per request


class PurposeSerializer(serializers.Serializer[Any]):
    code = serializers.SlugField(help_text=_("用件のコード（availability の purpose に指定）"))
    name_ja = serializers.CharField(help_text=_("名称（日本語）"))
    name_en = serializers.CharField(help_text=_("名称（英語）"))
    counter_group = serializers.IntegerField(source="counter_group_id", help_text=_("窓口のID"))
    seats_per_person = serializers.IntegerField(help_text=_("1人あたりの席数"))
    requires_notice_number = serializers.BooleanField(help_text=_("交付通知書の番号が必要か"))
    bring_ja = serializers.CharField(help_text=_("持ち物（日本語）"))
    bring_en = serializers.CharField(help_text=_("持ち物（英語）"))


class OpeningHoursSerializer(serializers.Serializer[Any]):
    weekday = serializers.IntegerField(
        min_value=0, max_value=6, help_text=_("曜日（0 = 月曜日 … 6 = 日曜日）")
    )
    # Local times of Asia/Tokyo as HH:MM (JSON Schema's "time" format would need a UTC offset).
    start = serializers.RegexField(r"^\d{2}:\d{2}$", help_text=_("受付開始（HH:MM、日本時間）"))
    end = serializers.RegexField(r"^\d{2}:\d{2}$", help_text=_("受付終了（HH:MM、日本時間）"))


class CounterGroupSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text=_("窓口のID（purposes の counter_group）"))
    name = serializers.CharField(help_text=_("窓口の名称（市が登録したとおり）"))
    location = serializers.CharField(help_text=_("場所（例: 本庁舎1階 市民課）。未登録なら空文字"))
    frame_minutes = serializers.IntegerField(help_text=_("1枠の長さ（分）"))
    hours = OpeningHoursSerializer(
        many=True,
        help_text=_("毎週の受付時間（祝日・年末年始・市の休業日は availability の closed で分かります）"),
    )


class DaySerializer(serializers.Serializer[Any]):
    date = serializers.DateField(help_text=_("日付"))
    status = serializers.ChoiceField(
        choices=["available", "few", "full", "closed", "outside"],
        help_text=_(
            "available: 空きあり、few: 残りわずか、full: 満席、closed: 受付なし、outside: 予約できる期間の外"
        ),
    )
    persons_free = serializers.IntegerField(help_text=_("この用件で予約できる残り人数"))


class AvailabilitySerializer(serializers.Serializer[Any]):
    purpose = serializers.SlugField(help_text=_("用件のコード"))
    days = DaySerializer(many=True)


class AvailabilityQuery(serializers.Serializer[Any]):
    purpose = serializers.SlugField(max_length=40)
    to = serializers.DateField()

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["from"] = serializers.DateField()  # a Python keyword, so declared here
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        first, last = attrs["from"], attrs["to"]
        if last < first:
            raise serializers.ValidationError({"to": [_("to は from 以降の日付にしてください。")]})
        if (last - first).days >= MAX_RANGE_DAYS:
            raise serializers.ValidationError(
                {"to": [_("一度に取得できるのは%(days)d日分までです。") % {"days": MAX_RANGE_DAYS}]}
            )
        return attrs


def counter_groups_active() -> list[CounterGroup]:
    """The counter groups residents can book at (those the active purposes point to), with their weekly hours."""
    return list(CounterGroup.objects.filter(active=True).prefetch_related("hours").order_by("pk"))


def _counter_group(group: CounterGroup) -> dict[str, Any]:
    return {
        "id": group.pk,
        "name": group.name,
        "location": group.location,
        "frame_minutes": group.frame_minutes,
        "hours": [
            {"weekday": h.weekday, "start": f"{h.start:%H:%M}", "end": f"{h.end:%H:%M}"}
            for h in group.hours.all()
        ],
    }


def _months(first: date, last: date) -> list[tuple[int, int]]:
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


class PurposeList(ApiView):
    required_scopes = (ApiScope.SLOTS_READ,)

    @extend_schema(
        operation_id="purposes_list",
        summary=_("用件の一覧"),
        description=_("住民が予約できる用件（受付中のもの）を表示順に返します。必要な権限: slots:read"),
        parameters=[IF_NONE_MATCH],
        responses={200: PurposeSerializer(many=True), **NOT_MODIFIED, **problem_responses()},
        examples=[
            OpenApiExample(
                "purposes",
                summary=_("受け取りと申請サポート"),
                value=[
                    {
                        "code": "pickup",
                        "name_ja": "マイナンバーカードの受け取り",
                        "name_en": "My Number Card pickup",
                        "counter_group": 1,
                        "seats_per_person": 1,
                        "requires_notice_number": True,
                        "bring_ja": "交付通知書、本人確認書類",
                        "bring_en": "The notice letter and an identity document",
                    },
                    {
                        "code": "application",
                        "name_ja": "申請サポート",
                        "name_en": "Application support",
                        "counter_group": 1,
                        "seats_per_person": 1,
                        "requires_notice_number": False,
                        "bring_ja": "本人確認書類",
                        "bring_en": "An identity document",
                    },
                ],
                response_only=True,
            )
        ],
        tags=["slots"],
    )
    def get(self, request: Request) -> Response:
        return with_etag(request, PurposeSerializer(purposes_active(), many=True).data)


class CounterGroupList(ApiView):
    required_scopes = (ApiScope.SLOTS_READ,)

    @extend_schema(
        operation_id="counter_groups_list",
        summary=_("窓口の一覧"),
        description=_(
            "住民が予約できる窓口（使用中のもの）と毎週の受付時間を返します。窓口の数は市の設定で決まる少数なので"
            "ページ分けはしません。ETag を If-None-Match で送ると、変わっていなければ 304 を返します。"
            "必要な権限: slots:read"
        ),
        parameters=[IF_NONE_MATCH],
        responses={200: CounterGroupSerializer(many=True), **NOT_MODIFIED, **problem_responses()},
        examples=[
            OpenApiExample(
                "counter_groups",
                summary=_("窓口がひとつの市"),
                value=[
                    {
                        "id": 1,
                        "name": "マイナンバーカード窓口",
                        "location": "本庁舎1階 市民課",
                        "frame_minutes": 30,
                        "hours": [
                            {"weekday": 0, "start": "08:30", "end": "12:00"},
                            {"weekday": 0, "start": "13:00", "end": "17:15"},
                        ],
                    }
                ],
                response_only=True,
            )
        ],
        tags=["slots"],
    )
    def get(self, request: Request) -> Response:
        return with_etag(request, [_counter_group(group) for group in counter_groups_active()])


class Availability(ApiView):
    required_scopes = (ApiScope.SLOTS_READ,)

    @extend_schema(
        operation_id="availability_list",
        summary=_("空き状況"),
        description=_(
            "用件の日ごとの空き状況を from から to まで（両端を含む、最大93日）返します。月の予約カレンダーと同じ"
            "キャッシュから読みます。ETag を If-None-Match で送ると、変わっていなければ 304 を返します。"
            "必要な権限: slots:read"
        ),
        parameters=[
            OpenApiParameter("purpose", OpenApiTypes.STR, required=True, description=_("用件のコード")),
            OpenApiParameter(
                "from", OpenApiTypes.DATE, required=True, description=_("最初の日（YYYY-MM-DD）")
            ),
            OpenApiParameter("to", OpenApiTypes.DATE, required=True, description=_("最後の日（YYYY-MM-DD）")),
            IF_NONE_MATCH,
        ],
        responses={200: AvailabilitySerializer, **NOT_MODIFIED, **problem_responses(400, 404)},
        examples=[
            OpenApiExample(
                "availability",
                summary=_("3日分"),
                value={
                    "purpose": "pickup",
                    "days": [
                        {"date": "2026-12-14", "status": "available", "persons_free": 18},
                        {"date": "2026-12-15", "status": "few", "persons_free": 2},
                        {"date": "2026-12-16", "status": "full", "persons_free": 0},
                    ],
                },
                response_only=True,
            )
        ],
        tags=["slots"],
    )
    def get(self, request: Request) -> Response:
        query = AvailabilityQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        code, first, last = (
            query.validated_data["purpose"],
            query.validated_data["from"],
            query.validated_data["to"],
        )
        # The resident pages' cached context (one cache read): the same purposes and settings the calendar uses.
        context = resident_context(request._request)
        purpose = context.purposes.get(code)
        if purpose is not None and not purpose.counter_group.active:
            purpose = None
        if purpose is None:
            raise exceptions.NotFound(_("用件「%(code)s」はありません。") % {"code": code})
        settings = context.settings
        now = timezone.now()
        days = []
        for year, month in _months(first, last):
            for day in month_availability(
                purpose=purpose, year=year, month=month, settings=settings, now=now
            ):
                if first <= day.day <= last:
                    days.append(
                        {"date": day.day.isoformat(), "status": day.status, "persons_free": day.persons_free}
                    )
        return with_etag(request, {"purpose": purpose.code, "days": days})
