"""REST API of the reports (docs/api.md, "Reports"; docs/reports.md defines every figure): the staff report's and the
monthly summary's figures as JSON, from the same forms (unit, month) and selectors (`report`, `monthly_summary`).
Counts only, no personal data (so no personal-data audit row, as on the pages). Scope reports:read.

The staff report offers two units, day (each day of the month) and month (the twelve months ending with it); the
API offers the same two.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.issuance.models import CardState
from apps.issuance.reports import selectors as sel
from apps.issuance.reports.forms import MonthForm, ReportForm
from apps.security.api_auth import ApiView, problem_responses
from apps.security.models import ApiScope


class ReportRowSerializer(serializers.Serializer[Any]):
    period_start = serializers.DateField(help_text=_("期間の最初の日"))
    period_end = serializers.DateField(help_text=_("期間の最後の日（この日を含む）"))
    events = serializers.DictField(
        child=serializers.IntegerField(), help_text=_("出来事のコードごとの件数（imported, issued など）")
    )
    entered = serializers.DictField(
        child=serializers.IntegerField(), help_text=_("その状態になったカードの数（状態のコードごと）")
    )
    issued = serializers.IntegerField(help_text=_("交付したカードの数"))
    issued_by_kind = serializers.DictField(
        child=serializers.IntegerField(), help_text=_("申請の種類ごとの交付数")
    )
    issued_by_counter = serializers.DictField(
        child=serializers.IntegerField(), help_text=_("窓口ごとの交付数")
    )
    seats_offered = serializers.IntegerField(help_text=_("予約枠の席数（受付を止めた枠を除く）"))
    seats_taken = serializers.IntegerField(help_text=_("予約された席数"))
    seat_use = serializers.FloatField(allow_null=True, help_text=_("席の利用率（0〜1、枠がなければ null）"))
    done = serializers.IntegerField(help_text=_("来庁して済んだ予約"))
    no_show = serializers.IntegerField(help_text=_("不来庁の予約"))
    no_show_rate = serializers.FloatField(
        allow_null=True, help_text=_("不来庁の割合（0〜1、来庁予定がなければ null）")
    )
    on_hand_at_end = serializers.IntegerField(
        allow_null=True, help_text=_("期間の終わりに保管していたカードの数（月次集計のみ、ほかは null）")
    )


class ReportSerializer(serializers.Serializer[Any]):
    unit = serializers.ChoiceField(choices=[sel.DAY, sel.MONTH], help_text=_("集計の単位"))
    month = serializers.CharField(help_text=_("集計の月（YYYY-MM）"))
    rows = ReportRowSerializer(many=True, help_text=_("期間ごとの数字（古い順）"))
    total = ReportRowSerializer(help_text=_("全期間の合計（on_hand_at_end は最後の期間の値）"))
    application_kinds = serializers.ListField(
        child=serializers.CharField(), help_text=_("交付したカードの申請の種類（表示順）")
    )
    counters = serializers.ListField(child=serializers.CharField(), help_text=_("交付した窓口（表示順）"))
    states_now = serializers.DictField(
        child=serializers.IntegerField(), help_text=_("今の状態ごとのカードの数（すべての状態）")
    )


class MonthlyRowSerializer(serializers.Serializer[Any]):
    month = serializers.CharField(help_text=_("月（YYYY-MM）"))
    received = serializers.IntegerField(help_text=_("受け入れた（カード一覧から登録した）カード"))
    set_up = serializers.IntegerField(help_text=_("交付前設定"))
    notified = serializers.IntegerField(help_text=_("交付通知書の発送"))
    issued = serializers.IntegerField(help_text=_("交付"))
    returned_mail = serializers.IntegerField(help_text=_("返戻"))
    disposed = serializers.IntegerField(help_text=_("廃棄"))
    on_hand_at_end = serializers.IntegerField(allow_null=True, help_text=_("月末の保管数（合計では null）"))


class MonthlySerializer(serializers.Serializer[Any]):
    month = serializers.CharField(help_text=_("最後の月（YYYY-MM）。その月までの12か月"))
    rows = MonthlyRowSerializer(many=True, help_text=_("月ごと（古い順）"))
    total = MonthlyRowSerializer(help_text=_("12か月の合計（month は期間、on_hand_at_end は null）"))


def _row(row: sel.ReportRow) -> dict[str, Any]:
    return {
        "period_start": row.period.start,
        "period_end": row.period.last,
        "events": dict(row.events),
        "entered": dict(row.entered),
        "issued": row.issued,
        "issued_by_kind": dict(row.issued_by_kind),
        "issued_by_counter": dict(row.issued_by_counter),
        "seats_offered": row.seats_offered,
        "seats_taken": row.seats_taken,
        "seat_use": row.seat_use,
        "done": row.done,
        "no_show": row.no_show,
        "no_show_rate": row.no_show_rate,
        "on_hand_at_end": row.on_hand_at_end,
    }


def _summary_row(row: sel.ReportRow, month: str) -> dict[str, Any]:
    return {
        "month": month,
        **{key: row.events.get(kind, 0) for key, kind in sel.SUMMARY_EVENTS},
        "on_hand_at_end": row.on_hand_at_end,
    }


def _invalid(form: ReportForm | MonthForm) -> exceptions.ValidationError:
    return exceptions.ValidationError(
        {name: [str(message) for message in messages] for name, messages in form.errors.items()}
    )


MONTH = OpenApiParameter("month", OpenApiTypes.STR, description=_("月（YYYY-MM、例: 2026-11）。省略時は今月"))

_ROW_EXAMPLE = {
    "period_start": "2026-11-16",
    "period_end": "2026-11-16",
    "events": {"imported": 120, "set_up": 120, "issued": 14},
    "entered": {"set_up": 120, "issued": 14},
    "issued": 14,
    "issued_by_kind": {"新規": 12, "更新": 2},
    "issued_by_counter": {"市民課 窓口": 14},
    "seats_offered": 40,
    "seats_taken": 31,
    "seat_use": 0.775,
    "done": 14,
    "no_show": 1,
    "no_show_rate": 0.0667,
    "on_hand_at_end": None,
}


class ReportView(ApiView):
    required_scopes = (ApiScope.REPORTS_READ,)

    @extend_schema(
        operation_id="reports_retrieve",
        summary=_("交付の集計"),
        description=_(
            "職員の「交付の集計」画面と同じ数字を返します。unit=day は選んだ月の各日、unit=month は選んだ月までの"
            "12か月です。カードの出来事・状態の変化・申請の種類別と窓口別の交付数・予約の席と不来庁・今の状態ごとの"
            "カード数（個人情報は含みません）。必要な権限: reports:read"
        ),
        parameters=[
            OpenApiParameter(
                "unit",
                OpenApiTypes.STR,
                enum=[sel.DAY, sel.MONTH],
                description=_("day: 日別（既定）、month: 月別"),
            ),
            MONTH,
        ],
        responses={
            200: OpenApiResponse(
                ReportSerializer,
                examples=[
                    OpenApiExample(
                        "daily",
                        summary=_("日別（1日分だけ表示）"),
                        value={
                            "unit": "day",
                            "month": "2026-11",
                            "rows": [_ROW_EXAMPLE],
                            "total": _ROW_EXAMPLE,
                            "application_kinds": ["新規", "更新"],
                            "counters": ["市民課 窓口"],
                            "states_now": dict.fromkeys(CardState.values, 0) | {"notice_mailed": 106},
                        },
                    )
                ],
            ),
            **problem_responses(400),
        },
        tags=["reports"],
    )
    def get(self, request: Request) -> Response:
        form = ReportForm.from_query(request.query_params)
        if not form.is_valid():
            raise _invalid(form)
        unit, month = form.values()
        report = sel.report(unit=unit, month=month)
        data = {
            "unit": unit,
            "month": f"{month:%Y-%m}",
            "rows": [_row(row) for row in report.rows],
            "total": _row(report.total),
            "application_kinds": report.kinds,
            "counters": report.counters,
            "states_now": {state: report.states_now.get(state, 0) for state in CardState.values},
        }
        return Response(ReportSerializer(data).data)


class MonthlyView(ApiView):
    required_scopes = (ApiScope.REPORTS_READ,)

    @extend_schema(
        operation_id="reports_monthly_retrieve",
        summary=_("月次集計"),
        description=_(
            "職員の「月次集計」と同じ数字を返します。選んだ月までの12か月、月ごとの受入・交付前設定・通知書発送・"
            "交付・返戻・廃棄の件数と月末の保管数。必要な権限: reports:read"
        ),
        parameters=[MONTH],
        responses={
            200: OpenApiResponse(
                MonthlySerializer,
                examples=[
                    OpenApiExample(
                        "monthly",
                        summary=_("月次集計（1か月分だけ表示）"),
                        value={
                            "month": "2026-11",
                            "rows": [
                                {
                                    "month": "2026-11",
                                    "received": 120,
                                    "set_up": 120,
                                    "notified": 118,
                                    "issued": 14,
                                    "returned_mail": 2,
                                    "disposed": 0,
                                    "on_hand_at_end": 106,
                                }
                            ],
                            "total": {
                                "month": "2025-12/2026-11",
                                "received": 120,
                                "set_up": 120,
                                "notified": 118,
                                "issued": 14,
                                "returned_mail": 2,
                                "disposed": 0,
                                "on_hand_at_end": None,
                            },
                        },
                    )
                ],
            ),
            **problem_responses(400),
        },
        tags=["reports"],
    )
    def get(self, request: Request) -> Response:
        form = MonthForm.from_query(request.query_params)
        if not form.is_valid():
            raise _invalid(form)
        month = form.month_value()
        report = sel.monthly_summary(month=month)
        total = report.total
        total.on_hand_at_end = None
        first, last = report.rows[0].period.start, report.rows[-1].period.start
        data = {
            "month": f"{month:%Y-%m}",
            "rows": [_summary_row(row, f"{row.period.start:%Y-%m}") for row in report.rows],
            "total": _summary_row(total, f"{first:%Y-%m}/{last:%Y-%m}"),
        }
        return Response(MonthlySerializer(data).data)
