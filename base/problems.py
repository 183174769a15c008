"""RFC 9457 problem details (`application/problem+json`): the one error format of the REST API.

A problem has a stable `code` (what a city's program branches on), a `type` URI built from it, a `title` for the
code and a `detail` for this occurrence, both in the language of the request (Japanese by default, English when
`Accept-Language` asks for it: LocaleMiddleware has activated it), the HTTP `status`, and for validation errors
the `errors` by field. The titles are a fixed table here, not gettext: they are part of the API's contract and
must read the same whatever the translation files hold.

Django only (no DRF): the DRF exception handler (apps.security.api_auth) and any middleware that answers under
/api/ before a view (the network gate) build the same answer with `problem_response`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.http import HttpResponse
from django.utils.functional import lazy
from django.utils.translation import get_language

CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:madoguchi:problem:"

# code: (status, Japanese title, English title)
PROBLEMS: dict[str, tuple[int, str, str]] = {
    "api_key_missing": (401, "APIキーがありません", "API key missing"),
    "api_key_malformed": (401, "APIキーの形式が正しくありません", "API key malformed"),
    "api_key_unknown": (401, "APIキーが確認できません", "API key not recognised"),
    "api_key_expired": (401, "APIキーの有効期限が切れています", "API key expired"),
    "api_key_revoked": (401, "APIキーは失効しています", "API key revoked"),
    "scope_missing": (403, "このAPIキーには権限がありません", "Scope missing"),
    "network_refused": (403, "この接続元からは利用できません", "Network not allowed"),
    "permission_denied": (403, "この操作を行う権限がありません", "Permission denied"),
    "not_found": (404, "見つかりません", "Not found"),
    "method_not_allowed": (405, "このメソッドは使えません", "Method not allowed"),
    "not_acceptable": (406, "この形式では応答できません", "Not acceptable"),
    "unsupported_media_type": (415, "この形式の本文は受け付けません", "Unsupported media type"),
    "validation_failed": (400, "入力に誤りがあります", "Validation failed"),
    "individual_number": (400, "個人番号（マイナンバー）は送信できません", "Individual number refused"),
    "parse_error": (400, "本文を読み取れません", "Malformed request body"),
    "rate_limited": (429, "リクエストが多すぎます", "Too many requests"),
    "card_transition_refused": (
        409,
        "この状態のカードにはこの操作を行えません",
        "Not allowed in the card's current state",
    ),
    "import_not_ready": (409, "この取込は今この操作を受け付けません", "Import not in a state for this"),
    # Idempotency-Key (apps.security.api_idempotency) and bookings (apps.booking.reservations.api).
    "idempotency_key_missing": (400, "Idempotency-Key がありません", "Idempotency-Key missing"),
    "idempotency_key_invalid": (400, "Idempotency-Key の形式が正しくありません", "Idempotency-Key invalid"),
    "idempotency_key_reused": (422, "Idempotency-Key は別の要求に使われています", "Idempotency-Key reused"),
    "idempotency_in_progress": (409, "同じ要求を処理中です", "Request in progress"),
    "slot_full": (409, "この時間は満席です", "Slot full"),
    "notice_refused": (422, "交付通知書の番号を確認できません", "Notice number refused"),
    "booking_refused": (422, "予約の受付条件に合いません", "Booking refused"),
    "maintenance": (503, "メンテナンス中です", "Under maintenance"),
    "city_suspended": (503, "この自治体のサービスは停止しています", "City service suspended"),
    # The database is away for a moment (a restart, a failover): retry after Retry-After (madoguchi.middleware).
    "database_unavailable": (503, "一時的に利用できません", "Temporarily unavailable"),
    # Uploads (base.scanning): a scanner found something; a scanner could not answer (retry after Retry-After).
    "virus_found": (422, "ウイルスが見つかったため受け付けません", "Virus found"),
    "virus_scan_unavailable": (503, "ウイルス検査ができないため受け付けられません", "Virus scan unavailable"),
    "server_error": (500, "サーバーで問題が起きました", "Internal server error"),
}


def language() -> str:
    """'en' when the request's language is English, otherwise 'ja'."""
    return "en" if (get_language() or "").startswith("en") else "ja"


def title(code: str) -> str:
    _status, ja, en = PROBLEMS.get(code, (0, code, code))
    return en if language() == "en" else ja


def problem_body(
    code: str,
    *,
    detail: str = "",
    status: int | None = None,
    errors: Mapping[str, list[str]] | None = None,
    instance: str = "",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    known_status = PROBLEMS.get(code, (500, "", ""))[0]
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": title(code),
        "status": status or known_status,
        "detail": detail or title(code),
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = {name: list(messages) for name, messages in errors.items()}
    if extra:
        body.update(extra)
    return body


def problem_response(
    code: str,
    *,
    detail: str = "",
    status: int | None = None,
    errors: Mapping[str, list[str]] | None = None,
    instance: str = "",
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    """A complete problem+json answer (for middleware and views outside DRF)."""
    body = problem_body(code, detail=detail, status=status, errors=errors, instance=instance)
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=body["status"], content_type=CONTENT_TYPE
    )
    for name, value in (headers or {}).items():
        response[name] = value
    response["Content-Language"] = language()
    return response


def _percent(template: Any, values: Mapping[str, Any]) -> str:
    return str(template) % dict(values)


# `_("…%(n)d…") % {...}` on a lazy text translates it once, when the module loads (always Japanese); this keeps it
# lazy, so a schema or form built at import time reads in the request's language.
percent_lazy = lazy(_percent, str)
