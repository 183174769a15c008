"""The audit log: recording (one service), reading (selectors), verifying the chain and exporting it.

Writers to one schema's chain are serialised by a transaction-scoped advisory lock, so each event gets the next
sequence number and the previous event's hash without gaps or forks, whichever process or server writes it.
docs/audit-log.md describes the design.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from apps.security.audit_models import GENESIS_HASH, ActorKind, AuditEvent
from apps.security.mynumber import contains_individual_number
from apps.security.network import client_ip
from madoguchi.logs import request_id_var
from tenants.db import current_schema

# First key of the two-int advisory lock that serialises one schema's chain; the second key is
# hashtext(current_schema()). The two-int key space is separate from the one-bigint space that
# tenants.services uses for provisioning (7_100_001), and no other code takes a lock with this first key.
AUDIT_CHAIN_LOCK = 7_100_010
JAPAN = ZoneInfo("Asia/Tokyo")
_TARGET_MAX = 255
_SUMMARY_MAX = 2000
_USERNAME_MAX = 150


@dataclass(frozen=True)
class Actor:
    """Who acted, when it is not a signed-in user: the system (a task), a resident, or someone unnamed."""

    kind: ActorKind
    username: str = ""
    id: int | None = None


SYSTEM = Actor(kind=ActorKind.SYSTEM, username="system")


# What a text holding a 個人番号 is stored as: the log can never be corrected, so the number must never get in
# (e.g. typed as a login name into a form that does not refuse it).
WITHHELD = "［個人番号を含むため記録しません］"


def _safe(value: str) -> str:
    # PostgreSQL refuses NUL in text; an attacker's login name must not turn a failed login into a 500.
    value = value.replace("\x00", "")
    return WITHHELD if contains_individual_number(value) else value


def _text(value: str, limit: int) -> str:
    return _safe(value)[:limit]


def _json_value(value: Any) -> Any:
    """A JSON value that survives jsonb unchanged, so the hash computed now matches the row read back later."""
    if value is None:
        return None
    # jsonb prints some floats differently from Python (1e+20 comes back as an integer): keep them as text.
    plain = json.loads(json.dumps(value, cls=DjangoJSONEncoder), parse_float=str)
    return _safe_json(plain)


def _safe_json(value: Any) -> Any:
    if isinstance(value, str):
        return _safe(value)
    if isinstance(value, int) and not isinstance(value, bool) and contains_individual_number(str(value)):
        return WITHHELD
    if isinstance(value, list):
        return [_safe_json(item) for item in value]
    if isinstance(value, dict):
        return {_safe(key): _safe_json(item) for key, item in value.items()}
    return value


def _actor_fields(actor: Any, request: HttpRequest | None) -> tuple[int | None, str, str]:
    if isinstance(actor, Actor):
        return actor.id, actor.username, actor.kind
    user = actor if actor is not None else getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        kind = ActorKind.VENDOR if current_schema() == "public" else ActorKind.STAFF
        return user.pk, user.get_username(), kind
    if request is not None:
        return None, "", ActorKind.ANONYMOUS
    return SYSTEM.id, SYSTEM.username, SYSTEM.kind


def _request_id(request: HttpRequest | None) -> str:
    value = getattr(request, "request_id", None) or request_id_var.get()
    return "" if value == "-" else str(value)[:64]


def audit_record(
    *,
    action: str,
    request: HttpRequest | None = None,
    actor: Any = None,
    target: str = "",
    summary: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the current schema's chain.

    `actor` is a user, an `Actor` (system, resident) or None for the request's user. Inside a caller's
    transaction the chain stays locked until that transaction ends, and the event is rolled back with it: record
    at the end of a service's transaction.
    """
    actor_id, actor_username, actor_kind = _actor_fields(actor, request)
    with transaction.atomic():
        with connection.cursor() as cursor:
            # The database's clock: one clock for every server, read while the chain is held.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema())), clock_timestamp()",
                [AUDIT_CHAIN_LOCK],
            )
            _locked, at = cursor.fetchone()
        last = AuditEvent.objects.order_by("-sequence").values_list("sequence", "hash").first()
        sequence, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
        event = AuditEvent(
            sequence=sequence,
            at=at,
            actor_id=actor_id,
            actor_username=_text(actor_username, _USERNAME_MAX),
            actor_kind=actor_kind,
            address=client_ip(request) if request is not None else "",
            action=_text(action, 64),
            target=_text(target, _TARGET_MAX),
            summary=_text(summary, _SUMMARY_MAX),
            before=_json_value(before),
            after=_json_value(after),
            request_id=_request_id(request),
            prev_hash=prev_hash,
        )
        event.hash = event.compute_hash()
        event.save(force_insert=True)
    if request is not None:
        request._audited = True  # type: ignore[attr-defined]
    return event


# --- Verifying ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    schema: str
    checked: int
    last_sequence: int
    last_hash: str
    broken_at: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def audit_verify(schema: str, *, batch_size: int = 2000) -> VerifyResult:
    """Walk `schema`'s chain in sequence order, in batches (constant memory), and report the first break.

    A changed row fails its own hash; a removed row leaves a gap in the sequence; a row put in another's place or
    between two rows no longer links to the hash before it. Removing the newest rows leaves a shorter, valid chain:
    compare `last_sequence`/`last_hash` with an earlier run's (docs/audit-log.md).
    """
    checked, expected, prev_hash = 0, 1, GENESIS_HASH
    with schema_context(schema):
        while True:
            batch = list(AuditEvent.objects.filter(sequence__gte=expected).order_by("sequence")[:batch_size])
            for event in batch:
                if event.sequence != expected:
                    return VerifyResult(schema, checked, expected - 1, prev_hash, expected, "missing")
                if event.prev_hash != prev_hash:
                    return VerifyResult(schema, checked, expected - 1, prev_hash, expected, "relinked")
                if event.compute_hash() != event.hash:
                    return VerifyResult(schema, checked, expected - 1, prev_hash, expected, "changed")
                checked, expected, prev_hash = checked + 1, expected + 1, event.hash
            if len(batch) < batch_size:
                return VerifyResult(schema, checked, expected - 1, prev_hash)


VERIFY_REASONS = {
    "missing": "row missing (sequence gap)",
    "relinked": "row does not link to the previous row's hash (removed, replaced or inserted)",
    "changed": "row changed (hash mismatch)",
}


# --- Reading -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    """What the list page and the export filter on; dates are calendar days in Japan, both inclusive."""

    date_from: date | None = None
    date_to: date | None = None
    action: str = ""
    actor: str = ""
    address: str = ""


def _start_of_day_in_japan(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=JAPAN)


def audit_events(filters: AuditFilters) -> QuerySet[AuditEvent]:
    """The current schema's events matching `filters`, newest first."""
    events = AuditEvent.objects.order_by("-sequence")
    if filters.date_from:
        events = events.filter(at__gte=_start_of_day_in_japan(filters.date_from))
    if filters.date_to:
        events = events.filter(at__lt=_start_of_day_in_japan(filters.date_to + timedelta(days=1)))
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.actor:
        events = events.filter(actor_username__icontains=filters.actor)
    if filters.address:
        events = events.filter(address=filters.address)
    return events


# --- Exporting ---------------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A CSV cell Excel will not run as a formula (the audit export and the other apps' exports use it)."""
    text = "" if value is None else str(value)
    # Excel runs a cell that starts like a formula; a login name such as "=HYPERLINK(...)" must stay text.
    return f"'{text}" if text.startswith(_FORMULA_START) else text


class _Line:
    """csv.writer's file: hands back each written line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def audit_csv_lines(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """The events as CSV for Excel: UTF-8 with a BOM, CRLF line ends, Japanese headers, times in Japan."""
    writer = csv.writer(_Line())
    yield "\ufeff"
    yield writer.writerow(
        [
            _("連番"),
            _("日時"),
            _("操作者"),
            _("操作者の種別"),
            _("接続元アドレス"),
            _("操作"),
            _("操作コード"),
            _("対象"),
            _("内容"),
            _("変更前"),
            _("変更後"),
            _("リクエストID"),
        ]
    )
    kinds = dict(ActorKind.choices)
    for event in events.iterator(chunk_size=2000):
        yield writer.writerow(
            [
                event.sequence,
                timezone.localtime(event.at, JAPAN).strftime("%Y-%m-%d %H:%M:%S"),
                csv_cell(event.actor_username),
                kinds.get(event.actor_kind, event.actor_kind),
                event.address,
                csv_cell(event.action_label),
                event.action,
                csv_cell(event.target),
                csv_cell(event.summary),
                csv_cell(_json_text(event.before)),
                csv_cell(_json_text(event.after)),
                event.request_id,
            ]
        )


def _json_text(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _describe(filters: AuditFilters) -> str:
    parts = [
        f"{name}={value}"
        for name, value in (
            ("from", filters.date_from),
            ("to", filters.date_to),
            ("action", filters.action),
            ("actor", filters.actor),
            ("address", filters.address),
        )
        if value
    ]
    return ", ".join(parts) or "-"


def audit_export(*, request: HttpRequest, filters: AuditFilters) -> Iterator[str]:
    """Record the export, then return its CSV lines (oldest first), read in chunks as they are sent."""
    audit_record(
        action="audit.exported",
        request=request,
        target="AuditEvent",
        # Stored text stays Japanese whatever the page's language: the log is one record for every reader.
        summary=f"監査ログをCSVで出力（条件: {_describe(filters)}）",
    )
    return _in_schema(current_schema(), audit_csv_lines(audit_events(filters).order_by("sequence")))


def _in_schema(schema: str, lines: Iterator[str]) -> Iterator[str]:
    # A streamed body is read after the middleware has returned: pin the schema it was asked in.
    with schema_context(schema):
        yield from lines
