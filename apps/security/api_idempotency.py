"""`Idempotency-Key` for the REST API's POSTs (docs/api.md, "Idempotency"; IETF draft-ietf-httpapi-idempotency-key-header).

A client that may send a POST twice (a timeout, a retry, a double click in its own system) sends a key of its own
choosing with it. Per API key, for 24 hours:

- the first request with a key runs, and its answer (status, body, Location) is stored with a fingerprint of the
  request (method, path, body);
- the same key with the same request again: the stored answer, unchanged, with `Idempotent-Replayed: true`;
- the same key with another request: 422 `idempotency_key_reused` (nothing runs);
- the same key while its first request is still running: 409 `idempotency_in_progress` (retry later).

How it holds under concurrency (PostgreSQL, any number of processes): the request runs inside one transaction that
first takes a transaction-scoped advisory lock on (schema, API key, Idempotency-Key) with `pg_try_advisory_xact_lock`,
never waiting. A duplicate that cannot take it is the 409. The one that holds it reads the stored row (committed
rows only: whoever stored it has committed and released the lock), runs the view when there is none, and inserts the
row with the answer in the same transaction as the view's own writes. So the booking and its stored answer commit
together or not at all: a crash, a 5xx or any exception rolls both back, the lock goes with the connection, and a
retry simply runs again. No row is ever left "in progress" by a dead process. (The unique constraint on
(api_key, idempotency_key) stays as the last guard; the nullable `status` of ApiIdempotency is not used.)

Which answers are stored: every answer the view gives below 500, refusals included (a full slot, a validation
error), as the draft says: the first answer is the answer for that key. A corrected request needs a new key. What is
refused before the view runs (no key, a wrong scope, a 個人番号, the rate limit, a missing Idempotency-Key) is never
stored.

`purge_expired_idempotency_keys_everywhere` (Celery, name pinned below) deletes rows older than 24 hours in every
city; a row past 24 hours is ignored even before the purge runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar

from celery import shared_task
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.security.api_auth import api_key_of, problem_answer
from apps.security.models import ApiIdempotency, ApiKey
from apps.security.mynumber import CODE as INDIVIDUAL_NUMBER
from apps.security.mynumber import MESSAGE as INDIVIDUAL_NUMBER_MESSAGE
from apps.security.mynumber import has_individual_number
from base.problems import CONTENT_TYPE
from tenants.db import current_schema, use_public_schema
from tenants.fanout import for_each_city

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_LENGTH = 255
KEPT = timedelta(hours=24)
IDEMPOTENCY_LOCK = (
    7_100_030  # first key of the two-int advisory lock of one (schema, API key, Idempotency-Key)
)
PURGE_TASK = "apps.security.api_idempotency.purge_expired_idempotency_keys_everywhere"

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=True,
    description=_(
        "この操作を一度だけ行うための、呼び出し側が決める一意の値（UUID など、255文字まで）。"
        "同じ値と同じ本文の再送には最初の応答をそのまま返します（Idempotent-Replayed: true）。"
        "24時間有効です。"
    ),
)
IDEMPOTENCY_KEY_OPTIONAL = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=_("省略できます。送ると、同じ値と同じ本文の再送には最初の応答をそのまま返します（24時間）。"),
)


def _key_text(request: Request) -> str | None:
    """The header's value, without the quotes of a structured-field string ("..."), or None when absent."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


def fingerprint(request: Request) -> str:
    """SHA-256 of the method, the path with its query and the body (JSON in one canonical form: key order and
    spacing do not matter)."""
    try:
        body = json.dumps(
            request.data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
        )
    except (TypeError, ValueError):
        body = request.body.decode("utf-8", "replace")
    text = f"{request.method}\n{request.get_full_path()}\n{body}"
    return hashlib.sha256(text.encode()).hexdigest()


def _try_lock(key: ApiKey, idempotency_key: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))",
            [IDEMPOTENCY_LOCK, f"{current_schema()}:{key.pk}:{idempotency_key}"],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def _replay(stored: ApiIdempotency) -> Response:
    status = int(stored.status or 200)
    headers = {REPLAYED_HEADER: "true"}
    if stored.location:
        headers["Location"] = stored.location
    return Response(
        stored.response,
        status=status,
        headers=headers,
        content_type=CONTENT_TYPE if status >= 400 else None,
    )


def _plain_json(data: Any) -> Any:
    """The answer's body as stored JSON (what the client received: dates as text, lazy texts resolved)."""
    if data is None:
        return None
    return json.loads(JSONRenderer().render(data))


def idempotent_call(
    view: APIView, request: Request, handler: Callable[[], Response], *, required: bool = True
) -> Response:
    """Run `handler` (the view's work) at most once per (API key, Idempotency-Key); see the module's docstring."""
    idempotency_key = _key_text(request)
    key = api_key_of(request)
    if not idempotency_key or key is None:
        if required:
            return problem_answer(
                request,
                "idempotency_key_missing",
                detail=str(
                    _("Idempotency-Key ヘッダーに、この操作に固有の値（UUID など）を付けて送ってください。")
                ),
            )
        return handler()
    if has_individual_number(idempotency_key):  # the key is stored: no 個人番号 in any input
        return problem_answer(request, INDIVIDUAL_NUMBER, detail=str(INDIVIDUAL_NUMBER_MESSAGE))
    if len(idempotency_key) > MAX_LENGTH or not idempotency_key.isprintable():
        return problem_answer(
            request,
            "idempotency_key_invalid",
            detail=str(
                _("Idempotency-Key は%(max)d文字までの印字可能な文字にしてください。") % {"max": MAX_LENGTH}
            ),
        )
    print_ = fingerprint(request)
    with transaction.atomic():
        if not _try_lock(key, idempotency_key):
            return problem_answer(
                request,
                "idempotency_in_progress",
                detail=str(
                    _("同じ Idempotency-Key の要求を処理中です。少し待ってから同じ内容で再送してください。")
                ),
                headers={"Retry-After": "1"},
            )
        stored = ApiIdempotency.objects.filter(api_key=key, idempotency_key=idempotency_key).first()
        if stored is not None and stored.created_at <= timezone.now() - KEPT:
            stored.delete()  # past its 24 hours: the key may be used again
            stored = None
        if stored is not None:
            if stored.fingerprint != print_:
                return problem_answer(
                    request,
                    "idempotency_key_reused",
                    detail=str(
                        _(
                            "この Idempotency-Key は別の内容の要求に使われています。"
                            "新しい操作には新しい値を使ってください。"
                        )
                    ),
                )
            return _replay(stored)
        try:
            response = handler()
        except Exception as exc:  # DRF turns its own errors into answers; it re-raises the rest (rollback)
            response = view.handle_exception(exc)
        if response.status_code >= 500:
            transaction.set_rollback(True)
            return response
        try:
            with transaction.atomic():
                ApiIdempotency.objects.create(
                    api_key=key,
                    idempotency_key=idempotency_key,
                    fingerprint=print_,
                    status=response.status_code,
                    response=_plain_json(response.data),
                    location=str(response.get("Location", ""))[:300],
                )
        except IntegrityError:  # only a lock-hash collision with another key could get here
            transaction.set_rollback(True)
            return problem_answer(request, "idempotency_in_progress", headers={"Retry-After": "1"})
    return response


ViewMethod = TypeVar("ViewMethod", bound=Callable[..., Response])


def idempotent(*, required: bool = True) -> Callable[[ViewMethod], ViewMethod]:
    """Decorator of an ApiView's `post`: the Idempotency-Key protocol around it (`idempotent_call`)."""

    def decorator(method: ViewMethod) -> ViewMethod:
        @wraps(method)
        def wrapped(view: APIView, request: Request, *args: Any, **kwargs: Any) -> Response:
            return idempotent_call(
                view, request, lambda: method(view, request, *args, **kwargs), required=required
            )

        return wrapped  # type: ignore[return-value]

    return decorator


# --- housekeeping --------------------------------------------------------------------------------------------------


def idempotency_keys_purge(*, now: datetime) -> int:
    """Delete the stored answers older than 24 hours in the current schema; returns how many."""
    deleted, _by_model = ApiIdempotency.objects.filter(created_at__lt=now - KEPT).delete()
    return deleted


@shared_task(name="apps.security.api_idempotency.purge_expired_idempotency_keys")
def purge_expired_idempotency_keys() -> int:
    """In the schema this task was sent from (tenant-schemas-celery)."""
    return idempotency_keys_purge(now=timezone.now())


@shared_task(name=PURGE_TASK)
def purge_expired_idempotency_keys_everywhere() -> int:
    """Beat entry point (public): one purge per city (keys and their answers live in each city's schema)."""
    use_public_schema()
    sent = for_each_city(purge_expired_idempotency_keys)
    use_public_schema()
    return sent
