"""REST API: the announcements residents see now on the city's top page (scope `slots:read`), in both languages.

Read with `announcements_current`, the top page's selector: the same announcements, newest first, with the texts
the pages show (English falls back to Japanese when the city wrote none; bodies are the cleaned HTML the pages
render). Answers carry an ETag of their body, like availability.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.booking.content.selectors import announcements_current
from apps.booking.models_content import Announcement
from apps.security.api_auth import IF_NONE_MATCH, NOT_MODIFIED, ApiView, problem_responses, with_etag
from apps.security.models import ApiScope


class AnnouncementSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text=_("お知らせのID"))
    title_ja = serializers.CharField(help_text=_("見出し（日本語）"))
    title_en = serializers.CharField(help_text=_("見出し（英語。未登録なら日本語）"))
    body_ja = serializers.CharField(
        help_text=_("本文（日本語、HTML: p, br, strong, em, ul, ol, li, a, h2, h3）")
    )
    body_en = serializers.CharField(help_text=_("本文（英語、HTML。未登録なら日本語）"))
    starts_at = serializers.DateTimeField(help_text=_("掲載開始"))
    ends_at = serializers.DateTimeField(allow_null=True, help_text=_("掲載終了（null は終了日なし）"))


def _announcement(announcement: Announcement) -> dict[str, Any]:
    return {
        "id": announcement.pk,
        "title_ja": announcement.title_for("ja"),
        "title_en": announcement.title_for("en"),
        "body_ja": str(announcement.body_for("ja")),
        "body_en": str(announcement.body_for("en")),
        "starts_at": announcement.starts_at,
        "ends_at": announcement.ends_at,
    }


class AnnouncementList(ApiView):
    required_scopes = (ApiScope.SLOTS_READ,)

    @extend_schema(
        operation_id="announcements_list",
        summary=_("お知らせの一覧"),
        description=_(
            "市のトップページにいま表示されているお知らせを新しい順に返します（日本語と英語）。表示中のものだけなので"
            "ページ分けはしません。ETag を If-None-Match で送ると、変わっていなければ 304 を返します。"
            "必要な権限: slots:read"
        ),
        parameters=[IF_NONE_MATCH],
        responses={200: AnnouncementSerializer(many=True), **NOT_MODIFIED, **problem_responses()},
        examples=[
            OpenApiExample(
                "announcements",
                summary=_("年末年始の休業のお知らせ"),
                value=[
                    {
                        "id": 3,
                        "title_ja": "年末年始の窓口休業",
                        "title_en": "Counters closed over the New Year",
                        "body_ja": "<p>12月29日から1月3日まで窓口はお休みです。</p>",
                        "body_en": "<p>The counters are closed from 29 December to 3 January.</p>",
                        "starts_at": "2026-12-01T09:00:00+09:00",
                        "ends_at": "2027-01-04T00:00:00+09:00",
                    }
                ],
                response_only=True,
            )
        ],
        tags=["content"],
    )
    def get(self, request: Request) -> Response:
        now = timezone.now()
        return with_etag(request, [_announcement(a) for a in announcements_current(now)])
