"""The audit log: recording (one service), reading (selectors), verifying the chain and exporting it.

Writers to one schema's chain are serialised by a transaction-scoped advisory lock, so each event gets the next
sequence number and the previous event's hash without gaps or forks, whichever process or server writes it.
docs/audit-log.md describes the design.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import QuerySet
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.signals import post_schema_sync
from django_tenants.utils import schema_context

from apps.security.actors import SYSTEM as SYSTEM
from apps.security.actors import Actor as Actor
from apps.security.actors import as_actor
from apps.security.audit_keys import city_key, head_mac, same
from apps.security.audit_models import (
    GENESIS_HASH,
    HASH_KEYED,
    HASH_UNKEYED,
    ActorKind,
    AuditEvent,
    AuditHead,
)
from base.log_context import request_id_var
from base.mynumber import contains_individual_number
from tenants.db import current_schema

# First key of the two-int advisory lock that serialises one schema's chain; the second key is
# hashtext(current_schema()). The two-int key space is separate from the one-bigint space that
# tenants.services uses for provisioning (7_100_001), and no other code takes a lock with this first key.
AUDIT_CHAIN_LOCK = 7_100_010
logger = logging.getLogger(__name__)
JAPAN = ZoneInfo("Asia/Tokyo")
_TARGET_MAX = 255
_SUMMARY_MAX = 2000
_USERNAME_MAX = 150


# Whether an audit row was written in this request (or task): AuditWritesMiddleware adds its generic row only
# when no service recorded one. Reset by that middleware at the start of each request.
_audited: ContextVar[bool] = ContextVar("audit_written", default=False)


def audit_written_reset() -> Token[bool]:
    return _audited.set(False)


def audit_written() -> bool:
    return _audited.get()


def audit_written_restore(token: Token[bool]) -> None:
    _audited.reset(token)


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


def _transitional_actor(actor: Any, request: Any) -> Actor:
    # TRANSITIONAL (issue 11 item 4): callers not yet converted pass a user or a request.
    if isinstance(actor, Actor):
        return actor
    if request is not None:
        from apps.security.request_actor import request_actor

        built = request_actor(request)
        return (
            built
            if actor is None
            else Actor.of_user(actor, address=built.address, request_id=built.request_id)
        )
    return as_actor(actor)


def _request_id(actor: Actor) -> str:
    value = actor.request_id or request_id_var.get()
    return "" if value == "-" else str(value)[:64]


def audit_record(
    *,
    action: str,
    actor: Actor | Any = None,
    request: Any = None,  # TRANSITIONAL (issue 11 item 4): removed once every caller passes an Actor
    target: str = "",
    summary: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the current schema's chain.

    `actor` says who and from where (`apps.security.actors`). Inside a caller's
    transaction the chain stays locked until that transaction ends, and the event is rolled back with it: record
    at the end of a service's transaction.
    """
    actor = _transitional_actor(actor, request)
    key = city_key(current_schema())
    with transaction.atomic():
        with connection.cursor() as cursor:
            # The database's clock: one clock for every server, read while the chain is held.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema())), clock_timestamp()",
                [AUDIT_CHAIN_LOCK],
            )
            _locked, at = cursor.fetchone()
        head = AuditHead.objects.first()
        head_ok = head is not None and _head_valid(head, key)
        last_sequence, prev_hash = _chain_end()
        if head is not None and head_ok and head.sequence > last_sequence:
            # The newest rows are gone: continue after the head, so the gap stays visible ("row missing") instead
            # of being papered over by a new head at the shortened end.
            last_sequence, prev_hash = head.sequence, head.hash
        event = AuditEvent(
            at=at,
            actor_id=actor.id,
            actor_username=_text(actor.username, _USERNAME_MAX),
            actor_kind=actor.kind,
            address=actor.address[:64],
            action=_text(action, 64),
            target=_text(target, _TARGET_MAX),
            summary=_text(summary, _SUMMARY_MAX),
            before=_json_value(before),
            after=_json_value(after),
            request_id=_request_id(actor),
            prev_hash=prev_hash,
            sequence=last_sequence + 1,
            hash_version=HASH_KEYED,
        )
        event.hash = event.compute_hash(key)
        event.save(force_insert=True)
        if head is not None and head_ok:
            _head_move(head, key, sequence=event.sequence, hash=event.hash)
        else:
            # A missing or forged head is evidence: it is left as found until someone has looked
            # (`manage.py audit_head_reset`); audit_verify reports it every day meanwhile.
            logger.error("audit head of schema %s is %s", current_schema(), "forged" if head else "missing")
    _audited.set(True)
    return event


def _chain_end() -> tuple[int, str]:
    last = AuditEvent.objects.order_by("-sequence").values_list("sequence", "hash").first()
    return (last[0], last[1]) if last else (0, GENESIS_HASH)


def _head_valid(head: AuditHead, key: bytes) -> bool:
    expected = head_mac(key, keyed_from=head.keyed_from, sequence=head.sequence, hash=head.hash)
    return same(expected, head.mac)


def _head_move(head: AuditHead, key: bytes, *, sequence: int, hash: str) -> None:
    head.sequence, head.hash = sequence, hash
    head.mac = head_mac(key, keyed_from=head.keyed_from, sequence=sequence, hash=hash)
    head.save(update_fields=["sequence", "hash", "mac", "updated_at"])


def audit_head_reset(schema: str) -> AuditHead:
    """Anchor `schema`'s head at its chain's current end (a new city, or after an investigated break).

    Every row from the next one on must be keyed. This is trusted blindly: call it for a new city (its template's
    head came along with the clone, under the template's key) or after someone has looked at why the head was
    missing or forged, never to make a failing check pass unexamined.
    """
    key = city_key(schema)
    with schema_context(schema), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", [AUDIT_CHAIN_LOCK])
        sequence, hash = _chain_end()
        # Keyed rows begin at the first keyed row, if any: a reset must not make a downgrade before it acceptable.
        first_keyed = (
            AuditEvent.objects.filter(hash_version=HASH_KEYED)
            .order_by("sequence")
            .values_list("sequence")
            .first()
        )
        keyed_from = first_keyed[0] if first_keyed else sequence + 1
        previous = AuditHead.objects.first()
        if previous is not None and _head_valid(previous, key):
            keyed_from = min(keyed_from, previous.keyed_from)
        mac = head_mac(key, keyed_from=keyed_from, sequence=sequence, hash=hash)
        head, _created = AuditHead.objects.update_or_create(
            id=1, defaults={"keyed_from": keyed_from, "sequence": sequence, "hash": hash, "mac": mac}
        )
    return head


@receiver(post_schema_sync, dispatch_uid="security.audit_head_for_new_city")
def _audit_head_for_new_city(sender: Any, **kwargs: Any) -> None:
    # A clone copies the template's head, MACed with the template's key: give the new city its own. Only while the
    # chain is empty, so that no later signal can re-anchor a city's head over evidence.
    if not AuditEvent.objects.exists():
        audit_head_reset(current_schema())


# --- Verifying ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    schema: str
    checked: int
    last_sequence: int
    last_hash: str
    broken_at: int | None = None
    reason: str = ""
    head_sequence: int | None = None  # the recorded head's sequence, when one was found

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def audit_verify(schema: str, *, batch_size: int = 2000, key: bytes | None = None) -> VerifyResult:
    """Walk `schema`'s chain in sequence order, in batches (constant memory), report the first break, then compare
    the chain's end with the recorded head.

    A changed row fails its own hash (a keyed row needs the schema's key, by default derived from
    settings.AUDIT_KEY; `key` checks with a handed-over city key instead); a removed row leaves a gap in the
    sequence; a row put in another's place or between two rows no longer links to the hash before it; an unkeyed
    row where the head says keyed rows began is a downgrade. Removing the newest rows leaves a shorter chain that
    the head, whose MAC only the key's holder can make, no longer matches.
    """
    key = key if key is not None else city_key(schema)
    with schema_context(schema):
        head = AuditHead.objects.first()
        head_ok = head is not None and _head_valid(head, key)
        # Unkeyed rows are acceptable only before the head's `keyed_from`; without a trustworthy head, only
        # before the first keyed row.
        keyed_from = head.keyed_from if head is not None and head_ok else None
        broken = _walk(schema, batch_size, key, keyed_from)
    if broken.broken_at is not None:
        return broken
    last, last_hash = broken.last_sequence, broken.last_hash

    def head_broken(at: int, reason: str) -> VerifyResult:
        head_sequence = head.sequence if head is not None else None
        return VerifyResult(schema, broken.checked, last, last_hash, at, reason, head_sequence)

    if head is None:
        return head_broken(last + 1, "head missing")
    if not head_ok:
        return head_broken(head.sequence, "head forged")
    if head.sequence > last:
        return head_broken(last + 1, "truncated")
    if head.sequence < last or not same(head.hash, last_hash):
        return head_broken(min(head.sequence + 1, last), "head mismatch")
    return VerifyResult(schema, broken.checked, last, last_hash, head_sequence=head.sequence)


def _walk(schema: str, batch_size: int, key: bytes, keyed_from: int | None) -> VerifyResult:
    checked, expected, prev_hash, keyed_seen = 0, 1, GENESIS_HASH, False
    while True:
        batch = list(AuditEvent.objects.filter(sequence__gte=expected).order_by("sequence")[:batch_size])
        for event in batch:
            if event.sequence != expected:
                return VerifyResult(schema, checked, expected - 1, prev_hash, expected, "missing")
            if event.prev_hash != prev_hash:
                return VerifyResult(schema, checked, expected - 1, prev_hash, expected, "relinked")
            if event.hash_version == HASH_UNKEYED and (
                keyed_seen or (keyed_from is not None and event.sequence >= keyed_from)
            ):
                return VerifyResult(schema, checked, expected - 1, prev_hash, expected, "downgraded")
            if event.hash_version not in (HASH_UNKEYED, HASH_KEYED) or not same(
                event.compute_hash(key), event.hash
            ):
                return VerifyResult(schema, checked, expected - 1, prev_hash, expected, "changed")
            keyed_seen = keyed_seen or event.hash_version == HASH_KEYED
            checked, expected, prev_hash = checked + 1, expected + 1, event.hash
        if len(batch) < batch_size:
            return VerifyResult(schema, checked, expected - 1, prev_hash)


VERIFY_REASONS = {
    "missing": "row missing (sequence gap)",
    "relinked": "row does not link to the previous row's hash (removed, replaced or inserted)",
    "changed": "row changed (hash mismatch: rewritten, or checked with the wrong key)",
    "downgraded": "unkeyed (version 1) row where keyed rows had begun (rewritten without the key)",
    "truncated": "the newest rows are missing (the recorded head is further on)",
    "head forged": "the recorded head's MAC does not verify (moved without the key, or the wrong key)",
    "head mismatch": "the chain's end differs from the recorded head (rows written or rewritten outside the app)",
    "head missing": "no recorded head (deleted); investigate, then manage.py audit_head_reset",
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


def audit_export(*, actor: Actor, filters: AuditFilters) -> Iterator[str]:
    """Record the export, then return its CSV lines (oldest first), read in chunks as they are sent."""
    audit_record(
        action="audit.exported",
        actor=actor,
        target="AuditEvent",
        # Stored text stays Japanese whatever the page's language: the log is one record for every reader.
        summary=f"監査ログをCSVで出力（条件: {_describe(filters)}）",
    )
    return _in_schema(current_schema(), audit_csv_lines(audit_events(filters).order_by("sequence")))


def _in_schema(schema: str, lines: Iterator[str]) -> Iterator[str]:
    # A streamed body is read after the middleware has returned: pin the schema it was asked in.
    with schema_context(schema):
        yield from lines
