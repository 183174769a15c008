"""The audit chain's integrity: its lock, its recorded head (anchored, moved, reset) and its verification.

`apps.security.audit.audit_record` appends under `AUDIT_CHAIN_LOCK` and moves the head with `head_move`;
`audit_verify` walks a schema's chain and compares its end with the head (the daily task and
`manage.py audit_verify`). docs/audit-log.md describes the design.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.dispatch import receiver
from django_tenants.signals import post_schema_sync
from django_tenants.utils import schema_context

from apps.security.audit_keys import city_key, head_mac, same
from apps.security.audit_models import GENESIS_HASH, HASH_KEYED, HASH_UNKEYED, AuditEvent, AuditHead
from tenants.db import current_schema

# First key of the two-int advisory lock that serialises one schema's chain; the second key is
# hashtext(current_schema()). The two-int key space is separate from the one-bigint space that
# tenants.services uses for provisioning (7_100_001), and no other code takes a lock with this first key.
AUDIT_CHAIN_LOCK = 7_100_010


def chain_end() -> tuple[int, str]:
    last = AuditEvent.objects.order_by("-sequence").values_list("sequence", "hash").first()
    return (last[0], last[1]) if last else (0, GENESIS_HASH)


def head_valid(head: AuditHead, key: bytes) -> bool:
    expected = head_mac(key, keyed_from=head.keyed_from, sequence=head.sequence, hash=head.hash)
    return same(expected, head.mac)


def head_move(head: AuditHead, key: bytes, *, sequence: int, hash: str) -> None:
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
        sequence, hash = chain_end()
        # Keyed rows begin at the first keyed row, if any: a reset must not make a downgrade before it acceptable.
        first_keyed = (
            AuditEvent.objects.filter(hash_version=HASH_KEYED)
            .order_by("sequence")
            .values_list("sequence")
            .first()
        )
        keyed_from = first_keyed[0] if first_keyed else sequence + 1
        previous = AuditHead.objects.first()
        if previous is not None and head_valid(previous, key):
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
        head_ok = head is not None and head_valid(head, key)
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
