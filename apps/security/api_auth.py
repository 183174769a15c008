"""The REST API's edge: API-key authentication, scopes, the rate limit per key, and problem details for every error.

- `ApiKeyAuthentication`: `Authorization: Bearer mdg_<prefix>_<secret>`, checked by `api_keys.api_key_authenticate`
  in the city's schema. No session authentication under /api/ (settings.REST_FRAMEWORK). A refused token raises a
  401 whose problem `code` says why (api_key_missing, _malformed, _unknown, _expired, _revoked), with
  `WWW-Authenticate: Bearer`. The request's actor (`request_actor`) becomes `Actor.of_api_key(...)`, so
  services and the audit log (also AuditWritesMiddleware's fallback row) record the key as the one who acted.
- `HasScopes`: a view names `required_scopes`; a key without one of them gets 403 `scope_missing`.
- Permissions of an API-key actor: it has no user; `Actor.has_perm()` (and so `ensure_permission` in every service)
  answers from the key's scopes through `scope_grants(scopes, permission)` below, the mapping from scope to the staff
  permission it stands for; configuration and security (`NEVER_FOR_KEYS`) are never granted. The view's scope
  (`HasScopes`) is checked first, before the view runs. `api_key_scopes(request)` gives the request's scopes.
- `ApiKeyRateThrottle`: DEFAULT_THROTTLE_RATES["api_key"] (e.g. "600/min") per key, counted in the city's
  security counters (apps.security.counters, fail closed); `RateLimit-Policy` and `RateLimit` (IETF
  draft-ietf-httpapi-ratelimit-headers) on every answer to a key, 429 with `Retry-After` over the limit.
- `refuse_individual_numbers`: every parameter and body field of every API request refuses a 個人番号 (400
  `individual_number`), before the view reads anything.
- `exception_handler`: every DRF error as `application/problem+json` (base.problems).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from apps.security.actors import Actor
from apps.security.api_keys import Refusal, api_key_authenticate
from apps.security.counters import Hit, counter_hit
from apps.security.models import ApiKey, ApiScope
from apps.security.mynumber import CODE as INDIVIDUAL_NUMBER
from apps.security.mynumber import MESSAGE as INDIVIDUAL_NUMBER_MESSAGE
from apps.security.mynumber import fields_with_individual_number, has_individual_number
from apps.security.network import client_ip
from apps.security.roles import (
    CONFIGURE_BOOKING,
    ISSUE_CARDS,
    MANAGE_CARDS,
    MANAGE_SECURITY,
    MANAGE_STAFF,
    VIEW_AUDIT,
    VIEW_REPORTS,
    WORK_COUNTER,
)
from base.problems import CONTENT_TYPE, PROBLEMS, language, problem_body

# The staff permission each scope stands for, for services that check a permission (`scope_grants`).
SCOPE_PERMISSIONS: dict[str, frozenset[str]] = {
    ApiScope.SLOTS_READ: frozenset(),
    ApiScope.RESERVATIONS_READ: frozenset(),
    ApiScope.RESERVATIONS_WRITE: frozenset({WORK_COUNTER}),
    ApiScope.CARDS_READ: frozenset(),
    ApiScope.CARDS_WRITE: frozenset({MANAGE_CARDS, ISSUE_CARDS}),
    ApiScope.REPORTS_READ: frozenset({VIEW_REPORTS}),
}
# Never granted to a key, whatever its scopes: configuration and security stay with signed-in supervisors.
NEVER_FOR_KEYS = frozenset({CONFIGURE_BOOKING, MANAGE_SECURITY, MANAGE_STAFF, VIEW_AUDIT})

_REFUSAL_DETAIL = {
    Refusal.MISSING: (
        "Authorization: Bearer ヘッダーでAPIキーを送ってください。",
        "Send the API key in an Authorization: Bearer header.",
    ),
    Refusal.MALFORMED: (
        "APIキーは mdg_<識別子>_<秘密> の形式です。",
        "An API key looks like mdg_<prefix>_<secret>.",
    ),
    Refusal.UNKNOWN: (
        "このAPIキーはこの自治体では確認できません。",
        "This API key is not recognised by this city.",
    ),
    Refusal.EXPIRED: (
        "このAPIキーの有効期限は切れています。管理者に再発行を依頼してください。",
        "This API key has expired; ask a supervisor for a new one.",
    ),
    Refusal.REVOKED: (
        "このAPIキーは失効しています。",
        "This API key has been revoked.",
    ),
}


def scope_grants(scopes: list[str] | tuple[str, ...], permission: str) -> bool:
    """Whether a key with `scopes` may do what `permission` allows staff to do."""
    if permission in NEVER_FOR_KEYS:
        return False
    return any(permission in SCOPE_PERMISSIONS.get(scope, frozenset()) for scope in scopes)


def _bilingual(pair: tuple[str, str]) -> str:
    return pair[1] if language() == "en" else pair[0]


WWW_AUTHENTICATE = 'Bearer realm="madoguchi"'


class ApiKeyRefused(exceptions.AuthenticationFailed):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(detail=_bilingual(_REFUSAL_DETAIL[refusal]), code=refusal.code)


class ApiKeyUser:
    """What DRF's `request.user` is for a key: authenticated, with no account (`pk` None). Permissions come from
    the key's scopes (`scope_grants`), never from a role."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None
    id = None

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self.username = f"api:{key.prefix}"

    def get_username(self) -> str:
        return self.username

    def has_perm(self, permission: str, obj: Any = None) -> bool:
        return scope_grants(list(self.key.scopes), permission)

    def __str__(self) -> str:
        return self.username


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>`; anything else under Authorization is malformed."""

    def authenticate(self, request: Request) -> tuple[ApiKeyUser, ApiKey] | None:
        header = get_authorization_header(request)
        if not header:
            return None  # HasScopes answers api_key_missing
        try:
            text = header.decode("ascii")
        except UnicodeDecodeError as error:
            raise ApiKeyRefused(Refusal.MALFORMED) from error
        scheme, _, token = text.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiKeyRefused(Refusal.MALFORMED)
        django_request: HttpRequest = request._request
        address = client_ip(django_request)
        result = api_key_authenticate(token.strip(), address)
        if isinstance(result, Refusal):
            raise ApiKeyRefused(result)
        user = ApiKeyUser(result)
        actor = Actor.of_api_key(result, address=address, request_id=_request_id(django_request))
        # request_actor() returns this actor for as long as request.user is this user (DRF sets both).
        django_request._madoguchi_actor = (user, actor)  # type: ignore[attr-defined]
        return user, result

    def authenticate_header(self, request: Request) -> str:
        return WWW_AUTHENTICATE


def _request_id(request: HttpRequest) -> str | None:
    value = str(getattr(request, "request_id", "") or "")[:64]
    return value or None


def api_key_of(request: Request) -> ApiKey | None:
    return request.auth if isinstance(request.auth, ApiKey) else None


def api_key_scopes(request: Request) -> tuple[str, ...]:
    key = api_key_of(request)
    return tuple(key.scopes) if key else ()


class ScopeMissing(exceptions.PermissionDenied):
    default_code = "scope_missing"


class HasScopes(BasePermission):
    """The view's `required_scopes` (all of them) must be the key's; no key at all is a 401 api_key_missing."""

    def has_permission(self, request: Request, view: Any) -> bool:
        key = api_key_of(request)
        if key is None:
            raise exceptions.NotAuthenticated(
                detail=_bilingual(_REFUSAL_DETAIL[Refusal.MISSING]), code=Refusal.MISSING.code
            )
        required = tuple(getattr(view, "required_scopes", ()))
        missing = [scope for scope in required if scope not in key.scopes]
        if missing:
            raise ScopeMissing(
                detail=_bilingual(
                    (
                        f"このAPIキーには権限 {', '.join(missing)} がありません。",
                        f"This API key lacks the scope {', '.join(missing)}.",
                    )
                )
            )
        return True


def rate_limit() -> tuple[int, int]:
    """(requests, seconds) of DEFAULT_THROTTLE_RATES["api_key"], e.g. "600/min" → (600, 60)."""
    rate = str(api_settings.DEFAULT_THROTTLE_RATES["api_key"])
    number, period = rate.split("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]
    return int(number), seconds


class ApiKeyRateThrottle(BaseThrottle):
    """One counter hit per request of a key (the city's security counters: atomic, fail closed)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        key = api_key_of(request)
        if key is None:
            return True
        limit, window = rate_limit()
        hit = counter_hit(f"api:rate:{key.prefix}", window=window, fail_closed=True)
        if hit.failed:
            # The counter lives in the database: if it cannot be stored, the database is away. Refused either way
            # (fail closed), but as what it is: 503 database_unavailable with Retry-After (madoguchi.middleware
            # .server_error), so a client retries in seconds instead of waiting out a rate-limit window.
            raise OperationalError("the API rate counter could not be stored")
        request._request._madoguchi_rate = (limit, window, hit)  # type: ignore[attr-defined]
        return not hit.over(limit)

    def wait(self) -> float | None:
        return None  # the exception handler takes Retry-After from the hit


def rate_limit_headers(request: HttpRequest, response: HttpResponse) -> None:
    """`RateLimit-Policy` and `RateLimit` on an answer to a key; `Retry-After` when over the limit."""
    state: tuple[int, int, Hit] | None = getattr(request, "_madoguchi_rate", None)
    if state is None:
        return
    limit, window, hit = state
    remaining = max(limit - hit.count, 0)
    response["RateLimit-Policy"] = f'"api_key";q={limit};w={window}'
    response["RateLimit"] = f'"api_key";r={remaining};t={hit.retry_after}'
    if hit.over(limit):
        response["Retry-After"] = str(hit.retry_after)


class ApiView(APIView):
    """Base of every API view: API keys, scopes, the rate limit and its headers on every answer (errors included).
    Named here rather than in DEFAULT_* settings (DRF imports those while rest_framework.views loads: a cycle)."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasScopes]
    throttle_classes = [ApiKeyRateThrottle]
    required_scopes: tuple[str, ...] = ()

    def check_permissions(self, request: Request) -> None:
        # Every request of a key counts against its limit, refused ones included, so the headers are on every
        # answer to a key (DRF's own order checks permissions before throttles).
        if api_key_of(request) is not None:
            super().check_throttles(request)
        super().check_permissions(request)

    def check_throttles(self, request: Request) -> None:
        return None  # done in check_permissions

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        refuse_individual_numbers(request)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        rate_limit_headers(request._request, response)
        return response


def with_etag(request: Request, data: Any) -> Response:
    """`data` with an ETag of its body; 304 without a body when `If-None-Match` names it (or `*`)."""
    body = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    asked = [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]
    if etag in asked or f"W/{etag}" in asked or "*" in asked:
        return Response(status=304, headers={"ETag": etag})
    return Response(data, headers={"ETag": etag})


def refuse_individual_numbers(request: Request) -> None:
    """Every query parameter (name and values) and every field of a JSON body, at any depth, refuses a 個人番号,
    also those the view does not read (docs/security.md, "Never the 個人番号"). The address's own check
    (IndividualNumberInAddressMiddleware) usually answers first; this one also covers bodies."""
    parameters: dict[str, object] = dict(request.query_params.lists())
    parameters.update({f"name:{name}": name for name in request.query_params})
    found = {name.removeprefix("name:") for name in fields_with_individual_number(parameters)}
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        data = request.data
        if isinstance(data, Mapping):
            found.update(fields_with_individual_number(data))
            found.update(str(name) for name in data if has_individual_number(str(name)))
        elif has_individual_number(data):
            found.add("non_field_errors")
    if found:
        raise exceptions.ValidationError(
            {
                name: [exceptions.ErrorDetail(str(INDIVIDUAL_NUMBER_MESSAGE), code=INDIVIDUAL_NUMBER)]
                for name in sorted(found)
            }
        )


# --- problem details ---------------------------------------------------------------------------------------------

_CODE_BY_EXCEPTION: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.NotAuthenticated, Refusal.MISSING.code),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.ParseError, "parse_error"),
    (exceptions.Throttled, "rate_limited"),
    (exceptions.ValidationError, "validation_failed"),
    (exceptions.PermissionDenied, "permission_denied"),
]


def _code(exc: exceptions.APIException) -> str:
    """The problem's code: the exception's own when it is one of base.problems.PROBLEMS (a view may raise e.g.
    `exceptions.APIException(detail, code="slot_full")` with `status_code` set), else the DRF class's."""
    detail_code = exc.get_codes() if not isinstance(exc, exceptions.ValidationError) else None
    if isinstance(detail_code, str) and detail_code in PROBLEMS:
        return detail_code
    for kind, code in _CODE_BY_EXCEPTION:
        if isinstance(exc, kind):
            return code
    return "server_error"


def _field_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for name, value in detail.items():
            errors.update(_field_errors(value, f"{prefix}{name}" if not prefix else f"{prefix}.{name}"))
    elif isinstance(detail, list) and detail and all(not isinstance(item, dict | list) for item in detail):
        errors[prefix or "non_field_errors"] = [str(item) for item in detail]
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            errors.update(_field_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        errors[prefix or "non_field_errors"] = [str(detail)]
    return errors


def _codes_flat(codes: Any) -> set[str]:
    if isinstance(codes, dict):
        return set().union(*(_codes_flat(value) for value in codes.values())) if codes else set()
    if isinstance(codes, list):
        return set().union(*(_codes_flat(value) for value in codes)) if codes else set()
    return {str(codes)}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error of the API as problem details (RFC 9457)."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(detail=str(exc) or None)
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=as_serializer_error(exc))
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500 (logged, Sentry); see urls_api.server_error for the body
    code = _code(exc)
    errors = None
    detail = ""
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        if "individual_number" in _codes_flat(exc.get_codes()):
            code = "individual_number"
    else:
        detail = str(exc.detail)
    request = context.get("request")
    body = problem_body(
        code, detail=detail, status=exc.status_code, errors=errors, instance=request.path if request else ""
    )
    headers: dict[str, str] = {}
    if isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
        body["status"] = status.HTTP_401_UNAUTHORIZED
        headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    response = Response(body, status=body["status"], headers=headers, content_type=CONTENT_TYPE)
    if request is not None:
        # Problems are JSON whatever the view renders otherwise (the schema's YAML) or the client asked for (406).
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = "application/json"
    if isinstance(exc, exceptions.Throttled) and request is not None:
        state = getattr(request._request, "_madoguchi_rate", None)
        if state is not None:
            response["Retry-After"] = str(state[2].retry_after)
    return response


def problem_answer(
    request: Request,
    code: str,
    *,
    detail: str = "",
    status: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem+json answer from a view (for codes the DRF exception handler does not map itself)."""
    body = problem_body(code, detail=detail, status=status, instance=request.path)
    return Response(body, status=body["status"], headers=headers, content_type=CONTENT_TYPE)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apps.security.api_auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "mdg_<prefix>_<secret>",
            "description": str(_("APIキー（管理者が発行）。Authorization: Bearer mdg_<識別子>_<秘密>")),
        }


# --- for the OpenAPI schema ---------------------------------------------------------------------------------------


class ProblemSerializer(serializers.Serializer[Any]):
    """RFC 9457 problem details, as every error of the API is answered."""

    type = serializers.CharField(help_text=_("問題の種類（urn:madoguchi:problem:<code>）"))
    title = serializers.CharField(help_text=_("問題の見出し（Accept-Language の言語）"))
    status = serializers.IntegerField(help_text=_("HTTPステータス"))
    detail = serializers.CharField(help_text=_("この問題の説明（Accept-Language の言語）"))
    code = serializers.CharField(help_text=_("変わらない問題コード（プログラムはこれで分岐してください）"))
    instance = serializers.CharField(required=False, help_text=_("問題が起きたパス"))

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        # Named like Serializer.errors, so added here.
        fields["errors"] = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            required=False,
            help_text=_("入力の誤り（項目ごとのメッセージ）"),
        )
        return fields


PROBLEM_REF = "#/components/schemas/Problem"


def problem_media_type_hook(result: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every answer whose body is a Problem is documented as
    `application/problem+json`, the type it is sent with (an operation names ProblemSerializer like any other)."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                body = content.get("application/json")
                if body is not None and body.get("schema", {}).get("$ref") == PROBLEM_REF:
                    content[CONTENT_TYPE] = content.pop("application/json")
    return result


# A list answered with `with_etag`: the client may send the ETag back and get 304 without a body.
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=_("前回の応答の ETag。変わっていなければ 304（本文なし）を返します"),
)
NOT_MODIFIED = {
    304: OpenApiResponse(description=_("変更なし（If-None-Match の ETag と同じ）。本文はありません"))
}


def problem_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The documented error answers of an operation (401, 403 and 429 for every keyed operation)."""
    described = {
        400: _("入力の誤り（validation_failed、個人番号は individual_number）"),
        401: _("APIキーがない・形式違い・不明・期限切れ・失効（api_key_missing など）"),
        403: _("権限（スコープ）がない（scope_missing）、または許可されていない接続元（network_refused）"),
        404: _("見つからない（not_found）"),
        429: _("リクエストが多すぎる（rate_limited）。Retry-After 秒後に再試行してください"),
    }
    return {
        code: OpenApiResponse(response=ProblemSerializer, description=described[code])
        for code in (*statuses, 401, 403, 429)
    }
