"""The audit log: recording (one service) and reading (selectors).

The chain's head and its verification are `apps.security.audit_chain`; the CSV export is
`apps.security.audit_export`.

Writers to one schema's chain are serialised by a transaction-scoped advisory lock, so each event gets the next
sequence number and the previous event's hash without gaps or forks, whichever process or server writes it.
docs/audit-log.md describes the design.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import QuerySet

from apps.security.actors import Actor
from apps.security.audit_chain import AUDIT_CHAIN_LOCK, chain_end, head_move, head_valid
from apps.security.audit_keys import city_key
from apps.security.audit_models import HASH_KEYED, AuditEvent, AuditHead
from base.log_context import request_id_var
from base.mynumber import contains_individual_number
from tenants.db import current_schema

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


def _request_id(actor: Actor) -> str:
    value = actor.request_id or request_id_var.get()
    return "" if value == "-" else str(value)[:64]


def audit_record(
    *,
    action: str,
    actor: Actor,
    target: str = "",
    summary: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the current schema's chain.

    `actor` says who and from where (`apps.security.actors`): its kind, name, address and request id are stored.
    Inside a caller's transaction the chain stays locked until that transaction ends, and the event is rolled back
    with it: record at the end of a service's transaction.
    """
    if not isinstance(actor, Actor):
        raise TypeError("audit_record needs an Actor (apps.security.actors), not a user or a request")
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
        head_ok = head is not None and head_valid(head, key)
        last_sequence, prev_hash = chain_end()
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
            head_move(head, key, sequence=event.sequence, hash=event.hash)
        else:
            # A missing or forged head is evidence: it is left as found until someone has looked
            # (`manage.py audit_head_reset`); audit_verify reports it every day meanwhile.
            logger.error("audit head of schema %s is %s", current_schema(), "forged" if head else "missing")
    _audited.set(True)
    return event


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
