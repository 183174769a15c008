"""REST API of the card-list import (docs/api.md, "Card imports"): upload a CSV as a preview batch, read the batch
(status, counts, problems per row, optionally the changes), apply (= the staff page's confirm) or discard it. The
same form, services and selectors as the import pages, so the same checks (encodings, column mapping, a 個人番号 in
the file name, size limit) and the same audit events, with the key as actor.

Validation of a large file runs in a Celery task, as on the staff pages (`ISSUANCE_IMPORT_BACKGROUND_ROWS`): the
upload always answers `202 Accepted` with the batch and a `Location` to poll until `running` is false. Applying a
large batch is handed to a task too (202, status `applying`); a small one is applied in the request (200, `done`).
A batch applies once: a second apply is `409 import_not_ready` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.parsers import FileUploadParser, FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from apps.issuance.imports import engine
from apps.issuance.imports import selectors as selectors_import
from apps.issuance.imports import services as services_import
from apps.issuance.imports.forms import ImportUploadForm
from apps.issuance.imports.storage import ImportBatchError, UploadInfectedError, UploadNotScannedError
from apps.issuance.models import ImportBatch
from apps.security import mynumber
from apps.security.api_auth import ApiView, ProblemSerializer, problem_answer, problem_responses
from apps.security.models import ApiScope
from apps.security.request_actor import request_actor
from base.problems import percent_lazy

NOT_READY = "import_not_ready"
VIRUS_FOUND = "virus_found"
SCAN_UNAVAILABLE = "virus_scan_unavailable"
RETRY_AFTER_SCANNER = 60  # seconds: about what a restarting clamd takes to load its signatures
# Apply and discard take no body; an empty one of any usual type (curl -d '' sends a form) is accepted.
NO_BODY_PARSERS = [JSONParser, FormParser, MultiPartParser]
Status = ImportBatch.Status


class CsvBodyParser(FileUploadParser):
    """A `text/csv` body is the file; its name comes from `Content-Disposition: attachment; filename=...`."""

    media_type = "text/csv"


# --- serializers ---------------------------------------------------------------------------------------------------


class ProblemRowSerializer(serializers.Serializer[Any]):
    line = serializers.IntegerField(allow_null=True, help_text=_("ファイルの行（見出しが1行目）"))
    column = serializers.CharField(help_text=_("列の見出し（行全体の問題では空）"))
    message = serializers.CharField(help_text=_("問題の説明（Accept-Language の言語）"))


class ChangedFieldSerializer(serializers.Serializer[Any]):
    before = serializers.CharField(help_text=_("変更前"))
    after = serializers.CharField(help_text=_("変更後"))

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["label"] = serializers.CharField(help_text=_("項目"))  # Field.label: added here
        return fields


class ChangeSerializer(serializers.Serializer[Any]):
    line = serializers.IntegerField(allow_null=True, help_text=_("ファイルの行"))
    notice_number = serializers.CharField(help_text=_("交付通知書の番号"))

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["fields"] = ChangedFieldSerializer(many=True, help_text=_("変わる項目"))  # Serializer.fields
        return fields


class BatchSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text=_("取込の番号"))
    file_name = serializers.CharField(help_text=_("ファイル名"))
    status = serializers.ChoiceField(
        choices=Status.choices,
        help_text=_(
            "validating: 確認中、invalid: エラーあり、ready: 取込待ち（apply できる）、applying: 取込中、"
            "done: 取込済、discarded: 取りやめ、failed: 失敗"
        ),
    )
    status_label = serializers.CharField(help_text=_("状態の名称"))
    running = serializers.BooleanField(help_text=_("確認中または取込中か（true の間は間をおいて読み直す）"))
    encoding = serializers.CharField(help_text=_("文字コード"))
    rows_total = serializers.IntegerField(help_text=_("データの行数"))
    rows_done = serializers.IntegerField(help_text=_("処理した行数（進み具合）"))
    rows_new = serializers.IntegerField(help_text=_("新規のカード"))
    rows_changed = serializers.IntegerField(help_text=_("内容が変わるカード"))
    rows_unchanged = serializers.IntegerField(help_text=_("変更のないカード"))
    rows_error = serializers.IntegerField(help_text=_("問題のある行"))
    message = serializers.CharField(help_text=_("ファイル全体の問題や失敗の説明"))
    created_at = serializers.DateTimeField(help_text=_("アップロードの日時"))
    finished_at = serializers.DateTimeField(allow_null=True, help_text=_("終わった日時"))
    problems = ProblemRowSerializer(
        many=True, help_text=percent_lazy(_("行ごとの問題（最初の%(n)d件まで）"), {"n": engine.ERRORS_KEPT})
    )
    problems_capped = serializers.BooleanField(help_text=_("問題が多く、一部だけを返しているか"))
    changes = ChangeSerializer(
        many=True,
        required=False,
        help_text=_("変更されるカード（?changes=true のときだけ。個人情報の閲覧として記録）"),
    )


_BATCH_EXAMPLE: dict[str, Any] = {
    "id": 12,
    "file_name": "cards-2026-11.csv",
    "status": "invalid",
    "status_label": "エラーあり",
    "running": False,
    "encoding": "UTF-8",
    "rows_total": 120,
    "rows_done": 120,
    "rows_new": 118,
    "rows_changed": 0,
    "rows_unchanged": 0,
    "rows_error": 2,
    "message": "",
    "created_at": "2026-12-01T09:00:00+09:00",
    "finished_at": "2026-12-01T09:00:02+09:00",
    "problems": [{"line": 7, "column": "生年月日", "message": "生年月日を日付として読めません。"}],
    "problems_capped": False,
}
BATCH_EXAMPLE = OpenApiExample(
    "batch", summary=_("確認の済んだ取込"), value=_BATCH_EXAMPLE, response_only=True
)
NOT_READY_EXAMPLE = OpenApiExample(
    "not_ready",
    summary=_("すでに確定済み"),
    value={
        "type": "urn:madoguchi:problem:import_not_ready",
        "title": "この取込は今この操作を受け付けません",
        "status": 409,
        "detail": "この取込はすでに確定または取りやめになっています。",
        "code": "import_not_ready",
        "instance": "/api/v1/card-imports/12/apply/",
    },
    response_only=True,
    status_codes=["409"],
)
BATCH_ID = OpenApiParameter(
    "batch_id", OpenApiTypes.INT, location=OpenApiParameter.PATH, description=_("取込の番号")
)
NOT_READY_RESPONSE = OpenApiResponse(
    ProblemSerializer, description=_("取込の状態がこの操作を受け付けない（import_not_ready）")
)


def _batch_or_404(batch_id: int) -> ImportBatch:
    batch = selectors_import.batch_get(batch_id)
    if batch is None:
        raise exceptions.NotFound(_gettext("取込 %(id)d はありません。") % {"id": batch_id})
    return batch


def _batch_data(batch: ImportBatch, request: Request, *, changes: bool = False) -> dict[str, Any]:
    progress = selectors_import.batch_progress(batch)
    data: dict[str, Any] = {
        "id": batch.pk,
        "file_name": batch.file_name,
        "status": batch.status,
        "status_label": progress["status_label"],
        "running": progress["running"],
        "encoding": selectors_import.encoding_label(batch),
        "rows_total": batch.rows_total,
        "rows_done": progress["rows_done"],
        "rows_new": batch.rows_new,
        "rows_changed": batch.rows_changed,
        "rows_unchanged": batch.rows_unchanged,
        "rows_error": batch.rows_error,
        "message": batch.message,
        "created_at": batch.created_at,
        "finished_at": batch.finished_at,
        "problems": selectors_import.batch_problems(batch),
        "problems_capped": len(batch.errors) >= engine.ERRORS_KEPT,
    }
    if changes:
        page = selectors_import.batch_changes_page(
            batch, page_number=None, per_page=engine.CHANGES_KEPT, actor=request_actor(request)
        )
        data["changes"] = list(page.object_list)
    return dict(BatchSerializer(data).data)


def _location(request: Request, batch: ImportBatch) -> str:
    return request.build_absolute_uri(f"/api/v1/card-imports/{batch.pk}/")


# --- views ---------------------------------------------------------------------------------------------------------


class UploadRequestSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(help_text=_("カード一覧のCSVファイル（UTF-8、BOM付きUTF-8、Shift_JIS）"))
    mapping = serializers.IntegerField(
        required=False, help_text=_("保存した列の対応の番号（省略時は標準の見出し）")
    )


class ImportUpload(ApiView):
    required_scopes = (ApiScope.CARDS_WRITE,)
    parser_classes = [MultiPartParser, CsvBodyParser]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        try:
            super().initial(request, *args, **kwargs)
        except exceptions.ValidationError as refused:
            # A 個人番号 in the file's name: refused before anything is stored, and audited as the upload page
            # audits it (the name recorded masked).
            upload = request.FILES.get("file") if isinstance(refused.detail, dict) else None
            if upload is not None and "file" in refused.detail:
                services_import.import_name_refused(file_name=upload.name or "", actor=request_actor(request))
            raise

    @extend_schema(
        operation_id="card_imports_create",
        summary=_("カード一覧の取込（アップロード）"),
        description=_(
            "J-LISのカード一覧のCSVをアップロードし、取込の確認（プレビュー）を始めます。カード一覧はまだ変わりません。"
            "multipart/form-data の file（と任意の mapping）、または本文そのものを text/csv で送ります"
            '（このときファイル名は Content-Disposition: attachment; filename="..."、列の対応は ?mapping=）。'
            "職員の取込画面と同じ確認（文字コード、見出しと列の対応、ファイル名の個人番号、大きさの上限、ウイルス検査）をします。"
            "応答は常に 202 で、Location の取込を running が false になるまで読み直してください。"
            "必要な権限: cards:write"
        ),
        parameters=[
            OpenApiParameter(
                "mapping", OpenApiTypes.INT, description=_("保存した列の対応の番号（text/csv のとき）")
            )
        ],
        request={"multipart/form-data": UploadRequestSerializer, "text/csv": OpenApiTypes.BINARY},
        responses={
            202: OpenApiResponse(BatchSerializer, examples=[BATCH_EXAMPLE]),
            422: OpenApiResponse(
                ProblemSerializer,
                description=_("ウイルスが見つかった（virus_found）。ファイルは保存していない"),
            ),
            503: OpenApiResponse(
                ProblemSerializer,
                description=_(
                    "ウイルス検査ができない（virus_scan_unavailable）。ファイルは保存していない。Retry-After 秒後に再試行"
                ),
            ),
            **problem_responses(400),
        },
        tags=["cards"],
    )
    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, Mapping) else {}
        data = {"mapping": body.get("mapping") or request.query_params.get("mapping") or ""}
        form = ImportUploadForm(data, {"file": request.FILES["file"]} if "file" in request.FILES else {})
        if not form.is_valid():
            if form.has_error("file", mynumber.CODE):
                services_import.import_name_refused(
                    file_name=request.FILES["file"].name or "", actor=request_actor(request)
                )
            raise exceptions.ValidationError(
                {name: [str(message) for message in messages] for name, messages in form.errors.items()}
            )
        mapping = form.cleaned_data["mapping"]
        try:
            batch = services_import.import_upload(
                upload=form.cleaned_data["file"],
                mapping_id=mapping.pk if mapping else None,
                actor=request_actor(request),
            )
        except UploadInfectedError as refused:
            return problem_answer(request, VIRUS_FOUND, detail=refused.message)
        except UploadNotScannedError as refused:
            return problem_answer(
                request,
                SCAN_UNAVAILABLE,
                detail=refused.message,
                headers={"Retry-After": str(RETRY_AFTER_SCANNER)},
            )
        except ImportBatchError as refused:
            raise exceptions.ValidationError({"file": [refused.message]}) from refused
        return Response(
            _batch_data(batch, request), status=202, headers={"Location": _location(request, batch)}
        )


class ImportDetail(ApiView):
    required_scopes = (ApiScope.CARDS_READ,)

    @extend_schema(
        operation_id="card_imports_retrieve",
        summary=_("取込の状態"),
        description=_(
            "取込の状態、件数（新規・変更・変更なし・エラー）、行ごとの問題を返します。?changes=true で変更される"
            "カードの内容も返します（個人情報の閲覧として監査ログに記録）。必要な権限: cards:read"
        ),
        parameters=[
            BATCH_ID,
            OpenApiParameter(
                "changes",
                OpenApiTypes.BOOL,
                description=percent_lazy(
                    _("true: 変更されるカードの内容（最初の%(n)d件）も返す"), {"n": engine.CHANGES_KEPT}
                ),
            ),
        ],
        responses={
            200: OpenApiResponse(BatchSerializer, examples=[BATCH_EXAMPLE]),
            **problem_responses(400, 404),
        },
        tags=["cards"],
    )
    def get(self, request: Request, batch_id: int) -> Response:
        asked = serializers.BooleanField(required=False)
        raw = request.query_params.get("changes")
        try:
            changes = bool(asked.to_internal_value(raw)) if raw not in (None, "") else False
        except serializers.ValidationError as error:
            raise exceptions.ValidationError({"changes": error.detail}) from error
        return Response(_batch_data(_batch_or_404(batch_id), request, changes=changes))


class ImportApply(ApiView):
    required_scopes = (ApiScope.CARDS_WRITE,)
    parser_classes = NO_BODY_PARSERS

    @extend_schema(
        operation_id="card_imports_apply",
        summary=_("取込の確定"),
        description=_(
            "確認の済んだ取込（status が ready）をカード一覧に反映します（職員の画面の「確定」と同じ）。"
            "小さなファイルはこの中で反映して 200（done）、大きなファイルは裏で反映して 202（applying）。"
            "ready でない取込（確定済み、取りやめ、エラーあり）は 409 import_not_ready で、何も変えません。"
            "必要な権限: cards:write"
        ),
        parameters=[BATCH_ID],
        request=None,
        responses={
            200: OpenApiResponse(BatchSerializer, description=_("反映した")),
            202: OpenApiResponse(BatchSerializer, description=_("裏で反映中（Location を読み直す）")),
            409: NOT_READY_RESPONSE,
            **problem_responses(404),
        },
        examples=[BATCH_EXAMPLE, NOT_READY_EXAMPLE],
        tags=["cards"],
    )
    def post(self, request: Request, batch_id: int) -> Response:
        batch = _batch_or_404(batch_id)
        try:
            result = services_import.import_confirm(batch_id=batch.pk, actor=request_actor(request))
        except ImportBatchError as refused:
            _batch_or_404(batch_id)
            return problem_answer(request, NOT_READY, detail=refused.message)
        if not result.started:
            if result.batch.status in (Status.DONE, Status.APPLYING, Status.DISCARDED):
                detail = _gettext("この取込はすでに確定または取りやめになっています。")
            else:
                detail = _gettext("「%(status)s」の取込は確定できません。") % {
                    "status": Status(result.batch.status).label
                }
            return problem_answer(request, NOT_READY, detail=detail)
        status = 202 if result.background else 200
        return Response(
            _batch_data(result.batch, request), status=status, headers={"Location": _location(request, batch)}
        )


class ImportDiscard(ApiView):
    required_scopes = (ApiScope.CARDS_WRITE,)
    parser_classes = NO_BODY_PARSERS

    @extend_schema(
        operation_id="card_imports_discard",
        summary=_("取込の取りやめ"),
        description=_(
            "反映していない取込（ready、invalid、failed）を取りやめ、ファイルを削除します。"
            "それ以外の取込は 409 import_not_ready です。必要な権限: cards:write"
        ),
        parameters=[BATCH_ID],
        request=None,
        responses={200: BatchSerializer, 409: NOT_READY_RESPONSE, **problem_responses(404)},
        examples=[NOT_READY_EXAMPLE],
        tags=["cards"],
    )
    def post(self, request: Request, batch_id: int) -> Response:
        _batch_or_404(batch_id)
        try:
            batch = services_import.import_discard(batch_id=batch_id, actor=request_actor(request))
        except ImportBatchError as refused:
            _batch_or_404(batch_id)
            return problem_answer(request, NOT_READY, detail=refused.message)
        return Response(_batch_data(batch, request))
