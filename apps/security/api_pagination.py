"""Cursor pagination for the REST API's lists, on (ordering field, id) (docs/api.md, "Pagination").

A list names the orderings it offers (`?ordering=starts_at` or `-starts_at`, a public name mapped to a field path)
and a default. A page holds `limit` items (default 50, at most 200) and, when more follow, `next`: the same URL
with `cursor=<opaque>`. The cursor is signed (a tampered or foreign cursor is a 400, never a 500 or another page)
and carries the ordering it was made for, the last item's value and its id, so a page never repeats or skips an
item while rows are added or removed in between, and costs one indexed range query however deep it is.

The ordering field must not be null (a null has no place in the range); lists order by such fields only.

    paginator = CursorPagination(orderings={"starts_at": "slot__starts_at"}, default="starts_at")
    page = paginator.page(queryset, request)
    return Response(page.body(ItemSerializer(page.items, many=True).data))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.core import signing
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, serializers
from rest_framework.request import Request

from base.problems import percent_lazy

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_SALT = "madoguchi.api.cursor"


def _invalid(field: str, message: Any) -> exceptions.ValidationError:
    return exceptions.ValidationError({field: [message]})


def _final_field(model: type[models.Model], path: str) -> models.Field[Any, Any]:
    """The model field at the end of a lookup path such as `slot__starts_at`."""
    current: Any = model
    field: Any = None
    for part in path.split("__"):
        field = current._meta.get_field(part)
        current = field.related_model or current
    if isinstance(field, models.ForeignKey):
        return field.target_field
    return field


def _plain(value: Any) -> Any:
    """JSON for the cursor, exact to the microsecond (DjangoJSONEncoder would cut datetimes to milliseconds and
    repeat rows)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_url: str | None
    next_cursor: str | None

    def body(self, results: Any) -> dict[str, Any]:
        return {"results": results, "next": self.next_url, "next_cursor": self.next_cursor}


class CursorPagination:
    def __init__(
        self,
        *,
        orderings: Mapping[str, str],
        default: str,
        limit: int = DEFAULT_LIMIT,
        max_limit: int = MAX_LIMIT,
    ) -> None:
        if default.lstrip("-") not in orderings:
            raise ValueError(f"default ordering {default!r} is not one of {sorted(orderings)}")
        self.orderings = dict(orderings)
        self.default = default
        self.limit = limit
        self.max_limit = max_limit

    # --- reading the request --------------------------------------------------------------------------------------

    def _ordering(self, request: Request) -> str:
        asked = str(request.query_params.get("ordering", "") or self.default)
        if asked.lstrip("-") not in self.orderings:
            choices = ", ".join(f"{name}, -{name}" for name in self.orderings)
            raise _invalid("ordering", _("並び順は次のいずれかです: %(choices)s") % {"choices": choices})
        return asked

    def _limit(self, request: Request) -> int:
        raw = request.query_params.get("limit")
        if raw in (None, ""):
            return self.limit
        try:
            value = int(str(raw))
        except ValueError:
            value = 0
        if not 1 <= value <= self.max_limit:
            raise _invalid("limit", _("limit は1から%(max)dまでの整数です。") % {"max": self.max_limit})
        return value

    def _cursor(self, request: Request, ordering: str) -> tuple[Any, int] | None:
        raw = request.query_params.get("cursor")
        if raw in (None, ""):
            return None
        try:
            data = signing.loads(str(raw), salt=_SALT)
            if data["o"] != ordering:
                raise _invalid(
                    "cursor", _("cursor は別の並び順のものです。ordering を変えずに送ってください。")
                )
            return data["v"], int(data["i"])
        except (signing.BadSignature, KeyError, TypeError, ValueError) as error:
            raise _invalid(
                "cursor", _("cursor が正しくありません。前の応答の next をそのまま使ってください。")
            ) from error

    # --- the page -------------------------------------------------------------------------------------------------

    def page(self, queryset: QuerySet[Any], request: Request) -> Page:
        ordering = self._ordering(request)
        limit = self._limit(request)
        descending = ordering.startswith("-")
        path = self.orderings[ordering.lstrip("-")]
        after = self._cursor(request, ordering)
        if after is not None:
            raw_value, last_id = after
            try:
                value = _final_field(queryset.model, path).to_python(raw_value)
            except (DjangoValidationError, FieldDoesNotExist) as error:
                raise _invalid("cursor", _("cursor が正しくありません。")) from error
            beyond = "lt" if descending else "gt"
            queryset = queryset.filter(
                Q(**{f"{path}__{beyond}": value}) | Q(**{path: value, f"pk__{beyond}": last_id})
            )
        sign = "-" if descending else ""
        rows = list(queryset.order_by(f"{sign}{path}", f"{sign}pk")[: limit + 1])
        items = rows[:limit]
        if len(rows) <= limit:
            return Page(items=items, next_url=None, next_cursor=None)
        last = items[-1]
        end: Any = last
        for part in path.split("__"):
            end = getattr(end, part)
        if isinstance(end, models.Model):
            end = end.pk
        cursor = signing.dumps({"o": ordering, "v": _plain(end), "i": last.pk}, salt=_SALT, compress=True)
        parameters: dict[str, Any] = {
            name: values[-1] for name, values in request.query_params.lists() if name != "cursor"
        }
        parameters["cursor"] = cursor
        next_url = request.build_absolute_uri(request.path + "?" + urlencode(parameters))
        return Page(items=items, next_url=next_url, next_cursor=cursor)

    # --- for the OpenAPI schema -----------------------------------------------------------------------------------

    def parameters(self) -> list[OpenApiParameter]:
        names: Sequence[str] = [*self.orderings, *(f"-{name}" for name in self.orderings)]
        return [
            OpenApiParameter(
                "ordering",
                OpenApiTypes.STR,
                enum=list(names),
                description=percent_lazy(
                    _("並び順（- は降順）。既定: %(default)s"), {"default": self.default}
                ),
            ),
            OpenApiParameter(
                "limit",
                OpenApiTypes.INT,
                description=percent_lazy(
                    _("1ページの件数（1〜%(max)d、既定 %(default)d）"),
                    {"max": self.max_limit, "default": self.limit},
                ),
            ),
            OpenApiParameter(
                "cursor",
                OpenApiTypes.STR,
                description=_("次のページの位置。前の応答の next_cursor をそのまま渡します"),
            ),
        ]


_PAGE_SERIALIZERS: dict[str, type[serializers.Serializer[Any]]] = {}


def page_serializer(item: type[serializers.Serializer[Any]], name: str) -> type[serializers.Serializer[Any]]:
    """The schema of one page of `item`s: results, next, next_cursor (one class per name for the schema)."""
    if name not in _PAGE_SERIALIZERS:
        _PAGE_SERIALIZERS[name] = type(
            name,
            (serializers.Serializer,),
            {
                "results": item(many=True),
                "next": serializers.URLField(
                    allow_null=True, help_text=_("次のページのURL（最後のページでは null）")
                ),
                "next_cursor": serializers.CharField(
                    allow_null=True, help_text=_("次のページの cursor（最後のページでは null）")
                ),
            },
        )
    return _PAGE_SERIALIZERS[name]
